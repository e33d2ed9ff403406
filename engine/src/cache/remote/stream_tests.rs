//! What a server's answers about the CAS count for: a ByteStream chunk with data is progress, an
//! empty message is not; a blob is missing only if it was asked about.

use std::time::Duration;

use futures_util::stream;

use super::cas::{Stalled, asked_only, next_data};
use super::proto::bytestream::ReadResponse;
use super::proto::re;

/// A server that sends a message every second, forever, each with `data`.
fn trickle(
    data: &'static [u8],
) -> impl futures_util::Stream<Item = Result<ReadResponse, tonic::Status>> + Unpin {
    Box::pin(stream::unfold((), move |()| async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let message = ReadResponse {
            data: data.to_vec(),
        };
        Some((Ok(message), ()))
    }))
}

#[tokio::test(start_paused = true)]
async fn empty_messages_do_not_keep_a_read_alive() {
    let idle = Duration::from_secs(5);
    // Empty messages every second: given up once the timeout passes without data.
    let mut empty = trickle(b"");
    let started = tokio::time::Instant::now();
    assert_eq!(next_data(&mut empty, idle).await.map(|_| ()), Err(Stalled));
    assert_eq!(started.elapsed(), idle);
    // A chunk with data is progress, and is returned.
    let mut data = trickle(b"abc");
    let next = next_data(&mut data, idle).await.expect("not stalled");
    assert_eq!(&next.expect("a message").expect("ok").data[..], b"abc");
    // Its end is its end.
    let mut done = stream::iter(Vec::<Result<ReadResponse, tonic::Status>>::new());
    assert!(matches!(next_data(&mut done, idle).await, Ok(None)));
}

#[test]
fn a_blob_is_missing_only_if_it_was_asked_about() {
    let digest = |hash: &str| re::Digest {
        hash: hash.repeat(64),
        size_bytes: 1,
    };
    let asked = [digest("a"), digest("b")];
    // Listed again and again, with blobs never asked about.
    let said = vec![digest("b"), digest("c"), digest("b"), digest("d")];
    assert_eq!(asked_only(&asked, said), [digest("b")]);
    assert!(asked_only(&asked, Vec::new()).is_empty());
}
