//! What the fuzz targets share.

use covenant_crypto::Suite;

/// The suite an input is decoded under (its first byte's low bit: 0 `sm`, 1 `intl`) and the
/// rest of it; `None` for an empty input.
pub fn split_suite(data: &[u8]) -> Option<(Suite, &[u8])> {
    let (&pick, rest) = data.split_first()?;
    Some((
        if pick & 1 == 0 {
            Suite::Sm
        } else {
            Suite::Intl
        },
        rest,
    ))
}
