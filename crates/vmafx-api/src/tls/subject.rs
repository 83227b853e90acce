//! The subject common name of an X.509 certificate, read from its DER encoding: just enough of
//! a DER reader to walk `Certificate → tbsCertificate → subject` (RFC 5280, section 4.1).
//!
//! The certificates read here were verified by rustls first, yet the reader still treats its
//! input as untrusted: every length is checked and malformed input gives `None`.

/// DER tags used on the way to the subject.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OBJECT_IDENTIFIER: u8 = 0x06;
const INTEGER: u8 = 0x02;
const EXPLICIT_VERSION: u8 = 0xa0;
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const IA5_STRING: u8 = 0x16;
const BMP_STRING: u8 = 0x1e;

/// id-at-commonName, 2.5.4.3, as DER content bytes.
const COMMON_NAME_OID: &[u8] = &[0x55, 0x04, 0x03];

/// The subject's common name; the last one when there are several (as Go's `crypto/x509`, and
/// so Kubernetes, read it). `None` when there is none or the DER is malformed.
pub(crate) fn common_name(certificate_der: &[u8]) -> Option<String> {
    let (certificate, _) = expect(certificate_der, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    let mut rest = tbs;
    let (tag, _, after) = element(rest)?;
    if tag == EXPLICIT_VERSION {
        rest = after;
    }
    let (_serial, rest) = expect(rest, INTEGER)?;
    let (_signature_algorithm, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (_validity, rest) = expect(rest, SEQUENCE)?;
    let (subject, _) = expect(rest, SEQUENCE)?;

    let mut found = None;
    let mut names = subject;
    while !names.is_empty() {
        let (relative_name, next) = expect(names, SET)?;
        names = next;
        let mut attributes = relative_name;
        while !attributes.is_empty() {
            let (attribute, next) = expect(attributes, SEQUENCE)?;
            attributes = next;
            let (oid, value) = expect(attribute, OBJECT_IDENTIFIER)?;
            if oid == COMMON_NAME_OID {
                let (tag, content, _) = element(value)?;
                found = Some(decode_string(tag, content)?);
            }
        }
    }
    found
}

fn decode_string(tag: u8, content: &[u8]) -> Option<String> {
    match tag {
        UTF8_STRING | PRINTABLE_STRING | IA5_STRING => {
            std::str::from_utf8(content).ok().map(str::to_owned)
        }
        BMP_STRING if content.len() % 2 == 0 => {
            let units = content
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// The content of the element at the start of `input` if its tag is `tag`, and what follows.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, content, rest) = element(input)?;
    (found == tag).then_some((content, rest))
}

/// Splits one DER element (single-byte tag, definite length) off the start of `input`: its tag,
/// its content and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_length) = after_tag.split_first()?;
    let (length, body) = if first < 0x80 {
        (usize::from(first), after_length)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || after_length.len() < count {
            return None;
        }
        let (length_bytes, body) = after_length.split_at(count);
        let length = length_bytes
            .iter()
            .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, body)
    };
    if body.len() < length {
        return None;
    }
    let (content, rest) = body.split_at(length);
    Some((tag, content, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate_with(names: &[(rcgen::DnType, &str)]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in names {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params
            .self_signed(&key)
            .expect("certificate")
            .der()
            .to_vec()
    }

    #[test]
    fn reads_the_common_name_among_other_attributes() {
        let der = certificate_with(&[
            (rcgen::DnType::OrganizationName, "vmafx"),
            (rcgen::DnType::CommonName, "node-a"),
            (rcgen::DnType::CountryName, "NL"),
        ]);
        assert_eq!(common_name(&der).as_deref(), Some("node-a"));
    }

    #[test]
    fn reads_a_non_ascii_common_name() {
        let der = certificate_with(&[(rcgen::DnType::CommonName, "nœud-ß")]);
        assert_eq!(common_name(&der).as_deref(), Some("nœud-ß"));
    }

    #[test]
    fn no_common_name_gives_none() {
        let der = certificate_with(&[(rcgen::DnType::OrganizationName, "vmafx")]);
        assert_eq!(common_name(&der), None);
    }

    #[test]
    fn truncated_or_garbage_input_gives_none_without_panicking() {
        let der = certificate_with(&[(rcgen::DnType::CommonName, "node-a")]);
        for cut in 0..der.len() {
            // Only the whole certificate is well-formed; no prefix may panic.
            let _ = common_name(&der[..cut]);
        }
        assert_eq!(common_name(&[]), None);
        assert_eq!(common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(common_name(&[0x30, 0x80]), None);
    }

    #[test]
    fn decodes_bmp_strings() {
        assert_eq!(
            decode_string(BMP_STRING, &[0x00, b'n', 0x00, b'1']).as_deref(),
            Some("n1")
        );
        assert_eq!(decode_string(BMP_STRING, &[0x00]), None);
    }
}
