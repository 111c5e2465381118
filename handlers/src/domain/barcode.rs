//! Barcodes: the GTINs printed on products (`docs/API.md` 1.2, "Barcodes"). A scanner reads one and may send it
//! instead of the sku; the write side resolves it to the one sku that has it.
//!
//! The GS1 check digit is hand-written: it is ten lines, and the one crate for it (`gtin-validate`) was last
//! released in 2020 on Rust 2015, with a few dozen downloads a month.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The lengths a GTIN has: GTIN-8 (EAN-8), GTIN-12 (UPC-A), GTIN-13 (EAN-13) and GTIN-14.
pub const GTIN_LENGTHS: [usize; 4] = [8, 12, 13, 14];

/// Most barcodes one product has (`defineProduct`'s `barcodes`): a product sold in a few pack sizes and by a few
/// suppliers has a handful; the bound keeps a product's definition and its claims small.
pub const MAX_BARCODES: usize = 32;

/// A GTIN with a valid check digit, kept as it was written (a GTIN-13 stays 13 digits in answers). GS1 compares
/// GTINs as 14 digits padded with zeros on the left, and so does this type: `036000291452` (GTIN-12) and
/// `0036000291452` (GTIN-13) are the same barcode (`key`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gtin(String);

/// Why a string is not a GTIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtinError {
    #[error("must be 8, 12, 13 or 14 digits")]
    Shape,
    #[error("has a wrong check digit (the last digit should be {expected})")]
    CheckDigit { expected: u32 },
}

impl Gtin {
    pub fn parse(s: &str) -> Result<Self, GtinError> {
        if !GTIN_LENGTHS.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GtinError::Shape);
        }
        let (body, check) = s.split_at(s.len() - 1);
        let expected = check_digit(body);
        if check.parse::<u32>() != Ok(expected) {
            return Err(GtinError::CheckDigit { expected });
        }
        Ok(Self(s.to_owned()))
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 14-digit form GS1 compares by: what stores and read models key a barcode on.
    pub fn key(&self) -> String {
        format!("{:0>14}", self.0)
    }
}

/// GS1's mod-10 check digit of the digits before it: weights 3, 1, 3, … from the right.
fn check_digit(body: &str) -> u32 {
    let sum: u32 =
        body.bytes().rev().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    (10 - sum % 10) % 10
}

impl PartialEq for Gtin {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Gtin {}

impl std::hash::Hash for Gtin {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Gtin {
    type Error = GtinError;
    fn try_from(s: String) -> Result<Self, GtinError> {
        Gtin::parse(&s)
    }
}

impl From<Gtin> for String {
    fn from(gtin: Gtin) -> String {
        gtin.0
    }
}

/// What a stock command names its product by: the sku, or a barcode the write side resolves to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductRef {
    Sku(super::Sku),
    Barcode(Gtin),
}

/// What a `defineProduct` does to the barcode registry: barcodes it newly claims, and those it lets go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BarcodeChange {
    pub claimed: Vec<Gtin>,
    pub released: Vec<Gtin>,
}

impl BarcodeChange {
    /// From a product's barcodes before and after its definition.
    pub fn between(before: &[Gtin], after: &[Gtin]) -> Self {
        Self {
            claimed: after.iter().filter(|g| !before.contains(g)).cloned().collect(),
            released: before.iter().filter(|g| !after.contains(g)).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.claimed.is_empty() && self.released.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_gtins_of_every_length_parse() {
        for code in ["96385074", "036000291452", "4006381333931", "10012345678902", "00000000", "0036000291452"] {
            assert_eq!(Gtin::parse(code).map(|g| g.to_string()), Ok(code.to_owned()), "{code}");
        }
    }

    #[test]
    fn a_wrong_check_digit_is_refused_and_names_the_right_one() {
        assert_eq!(Gtin::parse("4006381333932"), Err(GtinError::CheckDigit { expected: 1 }));
        assert_eq!(Gtin::parse("96385075"), Err(GtinError::CheckDigit { expected: 4 }));
        assert_eq!(Gtin::parse("036000291453"), Err(GtinError::CheckDigit { expected: 2 }));
        assert_eq!(Gtin::parse("10012345678901"), Err(GtinError::CheckDigit { expected: 2 }));
    }

    #[test]
    fn letters_spaces_signs_and_other_lengths_are_refused() {
        for code in [
            "",
            "4006381333931 ",
            " 4006381333931",
            "400638133393a",
            "4006-381333931",
            "+96385074",
            "1234567",
            "123456789",
            "12345678901",
            "400638133393100",
            "４００６３８１３３３９３１",
        ] {
            assert_eq!(Gtin::parse(code), Err(GtinError::Shape), "{code:?}");
        }
    }

    /// GS1: a GTIN is compared as 14 digits, zeros padded on the left.
    #[test]
    fn leading_zero_forms_are_the_same_barcode() {
        let upc = Gtin::parse("036000291452").unwrap();
        let ean = Gtin::parse("0036000291452").unwrap();
        let gtin14 = Gtin::parse("00036000291452").unwrap();
        assert_eq!(upc, ean);
        assert_eq!(ean, gtin14);
        assert_eq!(upc.key(), "00036000291452");
        assert_eq!(upc.as_str(), "036000291452", "kept as written");
        assert_ne!(upc, Gtin::parse("4006381333931").unwrap());
    }

    #[test]
    fn a_change_lists_what_is_claimed_and_released() {
        let [a, b, c] = ["96385074", "036000291452", "4006381333931"].map(|s| Gtin::parse(s).unwrap());
        let change = BarcodeChange::between(&[a.clone(), b.clone()], &[b.clone(), c.clone()]);
        assert_eq!(change, BarcodeChange { claimed: vec![c], released: vec![a] });
        let same = std::slice::from_ref(&b);
        assert!(BarcodeChange::between(same, same).is_empty());
    }
}
