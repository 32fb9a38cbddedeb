//! Four-letter words: admin commands a connection may send instead of a ConnectRequest.
//!
//! A server looks at a new connection's first 4 bytes (where a frame length would be). If they
//! spell a known word, it answers in text and closes the connection.

/// A four-letter admin command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FourLetterWord {
    /// `ruok`: answers `imok`.
    Ruok,
    /// `isro`: `ro` or `rw`.
    Isro,
    /// `srvr`: server details.
    Srvr,
    /// `stat`: server details and clients.
    Stat,
    /// `mntr`: metrics as tab-separated lines.
    Mntr,
    /// `conf`: configuration.
    Conf,
    /// `envi`: environment.
    Envi,
    /// `cons`: connection details.
    Cons,
    /// `crst`: reset connection statistics.
    Crst,
    /// `srst`: reset server statistics.
    Srst,
    /// `dump`: sessions and ephemerals.
    Dump,
    /// `wchs`: watch summary.
    Wchs,
    /// `wchc`: watches by connection.
    Wchc,
    /// `wchp`: watches by path.
    Wchp,
    /// `dirs`: data directory sizes.
    Dirs,
    /// `hash`: tree digests.
    Hash,
    /// `gtmk`: get trace mask.
    Gtmk,
    /// `stmk`: set trace mask.
    Stmk,
}

impl FourLetterWord {
    /// Every word.
    pub const ALL: &'static [FourLetterWord] = &[
        FourLetterWord::Ruok,
        FourLetterWord::Isro,
        FourLetterWord::Srvr,
        FourLetterWord::Stat,
        FourLetterWord::Mntr,
        FourLetterWord::Conf,
        FourLetterWord::Envi,
        FourLetterWord::Cons,
        FourLetterWord::Crst,
        FourLetterWord::Srst,
        FourLetterWord::Dump,
        FourLetterWord::Wchs,
        FourLetterWord::Wchc,
        FourLetterWord::Wchp,
        FourLetterWord::Dirs,
        FourLetterWord::Hash,
        FourLetterWord::Gtmk,
        FourLetterWord::Stmk,
    ];

    /// The command as text.
    pub const fn as_str(self) -> &'static str {
        match self {
            FourLetterWord::Ruok => "ruok",
            FourLetterWord::Isro => "isro",
            FourLetterWord::Srvr => "srvr",
            FourLetterWord::Stat => "stat",
            FourLetterWord::Mntr => "mntr",
            FourLetterWord::Conf => "conf",
            FourLetterWord::Envi => "envi",
            FourLetterWord::Cons => "cons",
            FourLetterWord::Crst => "crst",
            FourLetterWord::Srst => "srst",
            FourLetterWord::Dump => "dump",
            FourLetterWord::Wchs => "wchs",
            FourLetterWord::Wchc => "wchc",
            FourLetterWord::Wchp => "wchp",
            FourLetterWord::Dirs => "dirs",
            FourLetterWord::Hash => "hash",
            FourLetterWord::Gtmk => "gtmk",
            FourLetterWord::Stmk => "stmk",
        }
    }

    /// The word spelled by a connection's first 4 bytes, if any.
    pub fn detect(first: &[u8]) -> Option<FourLetterWord> {
        let word = first.get(..4)?;
        Self::ALL
            .iter()
            .copied()
            .find(|w| w.as_str().as_bytes() == word)
    }

    /// Parses a command name (as in a `4lw.commands.whitelist`).
    pub fn from_name(name: &str) -> Option<FourLetterWord> {
        Self::detect(name.trim().as_bytes()).filter(|_| name.trim().len() == 4)
    }
}

impl std::fmt::Display for FourLetterWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_words_not_frames() {
        assert_eq!(FourLetterWord::detect(b"ruok"), Some(FourLetterWord::Ruok));
        assert_eq!(
            FourLetterWord::detect(b"mntr\n"),
            Some(FourLetterWord::Mntr)
        );
        assert_eq!(FourLetterWord::detect(&[0, 0, 0, 45]), None);
        assert_eq!(FourLetterWord::detect(b"ru"), None);
        assert_eq!(
            FourLetterWord::from_name(" stat "),
            Some(FourLetterWord::Stat)
        );
        assert_eq!(FourLetterWord::from_name("statx"), None);
    }
}
