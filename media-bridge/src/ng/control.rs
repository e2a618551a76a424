//! The seam between the NG server and the media engine.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;

use super::media_options::Ignored;
use super::protocol::{CallRef, Command, Delete, List, NgError, PlayDtmf, Query, SdpRequest};
use super::reply::{CallStats, DeleteReply, Reply, SdpReply};

/// What the NG server asks of the media engine. The engine's errors become `{"result": "error"}` replies
/// with the error's `Display` text as `error-reason`.
///
/// The methods return `Send` futures so the server can run requests concurrently; an implementation
/// without anything to await can write them as `async fn` returning at once.
pub trait MediaControl {
    /// The engine's error type.
    type Error: fmt::Display + Send;

    /// Rewrite an offer's SDP, creating or updating the call.
    fn offer(
        &self,
        request: SdpRequest,
    ) -> impl Future<Output = Result<SdpReply, Self::Error>> + Send;

    /// Rewrite an answer's SDP, completing the call.
    fn answer(
        &self,
        request: SdpRequest,
    ) -> impl Future<Output = Result<SdpReply, Self::Error>> + Send;

    /// End a call or one of its branches.
    fn delete(
        &self,
        request: Delete,
    ) -> impl Future<Output = Result<DeleteReply, Self::Error>> + Send;

    /// Report a call's statistics.
    fn query(&self, request: Query) -> impl Future<Output = Result<CallStats, Self::Error>> + Send;

    /// The Call-IDs of active calls (the server keeps at most `request.limit` of them).
    fn list(&self, request: List) -> impl Future<Output = Result<Vec<Bytes>, Self::Error>> + Send;

    /// `play DTMF`: inject the digits into the call. The default answers that the command is not
    /// supported; an engine that plays DTMF returns [`Reply::Done`] (or an error reply).
    fn play_dtmf(&self, request: PlayDtmf) -> impl Future<Output = Reply> + Send {
        let _ = request;
        std::future::ready(Reply::error("unsupported command 'play DTMF'"))
    }

    /// `start recording` (`start` true) or `stop recording`. The default answers that the command is not
    /// supported; an engine that records returns [`Reply::Done`] (or an error reply).
    fn recording(&self, request: CallRef, start: bool) -> impl Future<Output = Reply> + Send {
        let _ = request;
        std::future::ready(Reply::error(if start {
            "unsupported command 'start recording'"
        } else {
            "unsupported command 'stop recording'"
        }))
    }

    /// Called before a request is executed when it carried entries that were not acted on; log them.
    /// The default does nothing.
    fn ignored(&self, peer: SocketAddr, command: &'static str, ignored: &[Ignored]) {
        let _ = (peer, command, ignored);
    }

    /// Called for a datagram that was not a valid request (it was answered with an error result if it had
    /// a cookie, dropped otherwise); log it. The default does nothing.
    fn rejected(&self, peer: SocketAddr, error: &NgError) {
        let _ = (peer, error);
    }
}

/// Run `command` against `control` and turn the outcome into a [`Reply`].
pub async fn execute<C: MediaControl + ?Sized>(control: &C, command: Command) -> Reply {
    match command {
        Command::Ping => Reply::Pong,
        Command::Offer(r) => control.offer(r).await.map_or_else(Reply::error, Reply::Sdp),
        Command::Answer(r) => control
            .answer(r)
            .await
            .map_or_else(Reply::error, Reply::Sdp),
        Command::Delete(r) => control
            .delete(r)
            .await
            .map_or_else(Reply::error, Reply::Deleted),
        Command::Query(r) => control
            .query(r)
            .await
            .map_or_else(Reply::error, Reply::Query),
        Command::PlayDtmf(r) => control.play_dtmf(r).await,
        Command::StartRecording(r) => control.recording(r, true).await,
        Command::StopRecording(r) => control.recording(r, false).await,
        Command::List(r) => {
            let limit = usize::try_from(r.limit).unwrap_or(usize::MAX);
            match control.list(r).await {
                Ok(mut calls) => {
                    calls.truncate(limit);
                    Reply::List(calls)
                }
                Err(e) => Reply::error(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Poll a future that never waits (the stand-in engine below answers at once).
    fn run<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the stand-in engine never waits"),
        }
    }

    struct Calls;

    impl MediaControl for Calls {
        type Error = &'static str;

        async fn offer(&self, r: SdpRequest) -> Result<SdpReply, Self::Error> {
            Ok(SdpReply::new(r.sdp))
        }

        async fn answer(&self, _: SdpRequest) -> Result<SdpReply, Self::Error> {
            Err("no such call")
        }

        async fn delete(&self, _: Delete) -> Result<DeleteReply, Self::Error> {
            Ok(DeleteReply::default())
        }

        async fn query(&self, _: Query) -> Result<CallStats, Self::Error> {
            Ok(CallStats::default())
        }

        async fn list(&self, _: List) -> Result<Vec<Bytes>, Self::Error> {
            Ok(vec![
                Bytes::from_static(b"a"),
                Bytes::from_static(b"b"),
                Bytes::from_static(b"c"),
            ])
        }
    }

    fn sdp_request() -> SdpRequest {
        SdpRequest {
            call_id: Bytes::from_static(b"c"),
            from_tag: Bytes::from_static(b"f"),
            to_tag: Some(Bytes::from_static(b"t")),
            via_branch: None,
            sdp: Bytes::from_static(b"v=0"),
            options: Default::default(),
        }
    }

    #[test]
    fn maps_engine_results_and_errors_to_replies() {
        assert_eq!(run(execute(&Calls, Command::Ping)), Reply::Pong);
        assert_eq!(
            run(execute(&Calls, Command::Offer(sdp_request()))),
            Reply::Sdp(SdpReply::new("v=0"))
        );
        assert_eq!(
            run(execute(&Calls, Command::Answer(sdp_request()))),
            Reply::Error("no such call".into())
        );
    }

    #[test]
    fn truncates_the_call_list_to_the_requested_limit() {
        let reply = run(execute(&Calls, Command::List(List { limit: 2 })));
        assert_eq!(
            reply,
            Reply::List(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")])
        );
    }
}
