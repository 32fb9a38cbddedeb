//! The core's outgoing bytes: small frames coalesced into one buffer, large ones kept whole.

use std::collections::VecDeque;

use bytes::BytesMut;

use crate::frame::{FramePool, RequestFrame, LARGE_FRAME};

/// A run of bytes to write.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) buf: BytesMut,
    /// A caller's frame whose buffer goes back to the [`FramePool`] once written.
    pub(crate) recycle: bool,
}

/// The bytes to write, in order: `chunks` first, then `small`.
#[derive(Debug)]
pub(crate) struct Transmit {
    chunks: VecDeque<Chunk>,
    small: BytesMut,
}

impl Transmit {
    pub(crate) fn new() -> Transmit {
        Transmit {
            chunks: VecDeque::new(),
            small: BytesMut::with_capacity(8 * 1024),
        }
    }

    /// The buffer to encode the next frame into.
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        &mut self.small
    }

    /// Appends a whole frame encoded elsewhere: copied if small (a copy costs less than an
    /// extra slice in a vectored write), else queued as it is.
    pub(crate) fn push_frame(&mut self, frame: RequestFrame) {
        if frame.len() < LARGE_FRAME {
            self.small.extend_from_slice(frame.as_bytes());
            return;
        }
        let frame = frame.into_bytes();
        self.seal();
        let recycle = FramePool::keeps(&frame);
        self.chunks.push_back(Chunk {
            buf: frame,
            recycle,
        });
    }

    /// Moves the coalesced frames into the chunk queue.
    fn seal(&mut self) {
        if !self.small.is_empty() {
            self.chunks.push_back(Chunk {
                buf: self.small.split(),
                recycle: false,
            });
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.small.is_empty()
    }

    /// Drops everything not yet handed out.
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.small.clear();
    }

    /// Moves every pending byte to the end of `dst` (no copy). Returns whether anything moved.
    pub(crate) fn poll(&mut self, dst: &mut VecDeque<Chunk>) -> bool {
        if self.is_empty() {
            return false;
        }
        self.seal();
        dst.append(&mut self.chunks);
        true
    }
}
