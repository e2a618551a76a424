//! Process limits the daemons raise at start.
//!
//! A media relay holds two sockets per stream (RTP and RTCP), so a pool of 10,000 ports needs about as many
//! descriptors, and a proxy one per TCP, TLS or WebSocket connection. The usual soft limit on open files
//! (1024, what systemd and login shells hand out) would make `tandem media` refuse calls past about 250. The
//! hard limit is what the administrator allows; the soft limit is only a default that a process may raise
//! up to it, which is what servers that need many descriptors do at start.

/// The soft limit on open files (`RLIMIT_NOFILE`) before and after [`raise_open_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit the process started with.
    pub before: u64,
    /// The soft limit now.
    pub after: u64,
}

/// Raises the soft limit on open files to the hard limit (capped at 1,048,576, so that an `unlimited` hard
/// limit does not make per-descriptor tables huge). `None` where there is no such limit or it cannot be
/// read; an unchanged limit when raising it fails.
pub fn raise_open_files() -> Option<OpenFiles> {
    imp::raise_open_files()
}

/// The cap on the raised soft limit.
const CAP: u64 = 1 << 20;

#[cfg(unix)]
mod imp {
    use super::{CAP, OpenFiles};

    // `rlim_t` is `u64` on most targets but not all; the conversions below are no-ops where it is.
    #[allow(clippy::useless_conversion)]
    pub(super) fn raise_open_files() -> Option<OpenFiles> {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the limit into the struct it is given, which lives for the call.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        let before = u64::from(limit.rlim_cur);
        let wanted = u64::from(limit.rlim_max).min(CAP);
        if wanted <= before {
            return Some(OpenFiles {
                before,
                after: before,
            });
        }
        let raised = libc::rlimit {
            rlim_cur: wanted as libc::rlim_t,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given, which lives for the call.
        let after = match unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } {
            0 => wanted,
            _ => before,
        };
        Some(OpenFiles { before, after })
    }
}

#[cfg(not(unix))]
mod imp {
    pub(super) fn raise_open_files() -> Option<super::OpenFiles> {
        None
    }
}
