//! HMAC-SHA256 webhook signatures of the `sha256=<hex>` form that GitHub and Jira send.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::error::Rejection;
use crate::tracker::InboundRequest;

/// Checks `header: sha256=<hex HMAC-SHA256(secret, raw body)>` in constant time.
///
/// # Errors
/// [`Rejection::MissingSignature`] when the header is absent,
/// [`Rejection::BadSignature`] when it is malformed or does not match.
pub fn verify_hex_hmac(
    request: &InboundRequest,
    secret: &SecretString,
    header: &'static str,
) -> Result<(), Rejection> {
    let value = request
        .header(header)
        .ok_or(Rejection::MissingSignature(header))?;
    let hex_digest = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(Rejection::BadSignature(header))?;
    let expected = hex::decode(hex_digest).map_err(|_| Rejection::BadSignature(header))?;

    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(&request.body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| Rejection::BadSignature(header))
}

/// Computes the `sha256=<hex>` signature of `body`, as the trackers send it.
pub fn sign_hex_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Compares a received shared secret with the expected one in constant time.
///
/// Only the length can leak, so use secrets of a fixed, generous length.
pub fn secret_matches(received: &str, expected: &SecretString) -> bool {
    use subtle::ConstantTimeEq;
    received
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(signature: Option<&str>, body: &str) -> InboundRequest {
        let mut headers = Vec::new();
        if let Some(signature) = signature {
            headers.push(("x-hub-signature-256".to_owned(), signature.to_owned()));
        }
        InboundRequest {
            headers,
            body: body.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn github_documented_test_vector() {
        // The example GitHub's webhook documentation gives for secret "It's a Secret to Everybody".
        let secret = SecretString::from("It's a Secret to Everybody");
        let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let result = verify_hex_hmac(
            &request(Some(signature), "Hello, World!"),
            &secret,
            "x-hub-signature-256",
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn wrong_signature_rejected() {
        let secret = SecretString::from("s3cret");
        let signature = sign_hex_hmac("other", b"{}");
        let result = verify_hex_hmac(
            &request(Some(&signature), "{}"),
            &secret,
            "x-hub-signature-256",
        );
        assert_eq!(result, Err(Rejection::BadSignature("x-hub-signature-256")));
    }

    #[test]
    fn missing_signature_rejected() {
        let secret = SecretString::from("s3cret");
        let result = verify_hex_hmac(&request(None, "{}"), &secret, "x-hub-signature-256");
        assert_eq!(
            result,
            Err(Rejection::MissingSignature("x-hub-signature-256"))
        );
    }

    #[test]
    fn non_hex_signature_rejected() {
        let secret = SecretString::from("s3cret");
        let result = verify_hex_hmac(
            &request(Some("sha256=zz"), "{}"),
            &secret,
            "x-hub-signature-256",
        );
        assert_eq!(result, Err(Rejection::BadSignature("x-hub-signature-256")));
    }
}
