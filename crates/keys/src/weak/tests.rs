use super::*;
use rcgen::PublicKeyData;
use std::collections::BTreeSet;

const M127: &str = "170141183460469231731687303715884105727"; // 2^127 − 1, prime

fn big(s: &str) -> BigUint {
    s.parse().unwrap()
}

fn checks(found: &[WeakFinding]) -> Vec<WeakCheck> {
    found.iter().map(|f| f.check).collect()
}

#[test]
fn sieve_and_gcd() {
    assert_eq!(primes_up_to(30), vec![2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
    assert_eq!(primes_up_to(1), Vec::<u32>::new());
    assert_eq!(primes_up_to(65_537).len(), 6_543);
    assert_eq!(primes_up_to(65_537).last(), Some(&65_537));
    assert_eq!(gcd(&BigUint::from(84u32), &BigUint::from(36u32)), BigUint::from(12u32));
    assert_eq!(gcd(&BigUint::from(7u32), &BigUint::ZERO), BigUint::from(7u32));
}

#[test]
fn fermat_finds_close_factors_only() {
    let (p, q) = fermat_factor(&BigUint::from(1009u32 * 1013), 100).unwrap();
    assert_eq!((p, q), (BigUint::from(1013u32), BigUint::from(1009u32)));
    let (p, q) = fermat_factor(&BigUint::from(1013u32 * 1013), 0).unwrap();
    assert_eq!(p, q);
    // 3 · 1000003 is far from a square: not found in 100 steps.
    assert_eq!(fermat_factor(&BigUint::from(3_000_009u32), 100), None);
    // A gap that needs more than the allowed steps.
    let p = big(M127);
    let q = &p + 2u32 * 1_000_000u32; // not prime, but Fermat does not care
    let n = &p * &q;
    assert!(fermat_factor(&n, 100).is_some()); // a = (p+q)/2 is found at once
    let far = &p * (&p * 3u32);
    assert_eq!(fermat_factor(&far, 100), None);
}

#[test]
fn perfect_square_filter_never_rejects_squares() {
    for k in 0u32..2_000 {
        assert!(may_be_square(&(BigUint::from(k) * k)), "{k}");
    }
    let rejected = (0u32..2_000).filter(|&k| !may_be_square(&BigUint::from(k))).count();
    assert!(rejected > 1_800, "{rejected}");
}

#[test]
fn roca_fingerprint() {
    let checker = WeakKeyChecker::default();
    // Powers of 65537 are in the subgroup modulo every prime.
    for k in [1u32, 2, 5, 77, 1_000] {
        assert!(checker.is_roca(&BigUint::from(65_537u32).pow(k)), "{k}");
    }
    // An ordinary RSA modulus and small numbers are not.
    let key =
        crate::spki::parse_spki(&crate::testkeys::key_for(&rcgen::PKCS_RSA_SHA256).subject_public_key_info()).unwrap();
    let crate::spki::PublicKey::Rsa { modulus, .. } = key else { panic!("not RSA") };
    assert!(!checker.is_roca(&BigUint::from_bytes_be(&modulus)));
    assert!(!checker.is_roca(&big(M127)));
    // Multiples of a small prime are never ROCA (0 is not a power).
    assert!(!checker.is_roca(&(BigUint::from(65_537u32).pow(3) * 3u32)));
    // Tables cover the 38 odd primes up to 167.
    assert_eq!(checker.roca.len(), 38);
    assert_eq!(checker.roca.last().map(|(r, _)| *r), Some(167));
}

#[test]
fn small_and_shared_factors() {
    let mut checker = WeakKeyChecker::default();
    let n = big(M127) * 31_337u32;
    let found = checker.check_rsa(&n.to_bytes_be(), &[1, 0, 1]).unwrap();
    assert_eq!(checks(&found), vec![WeakCheck::SmallFactors]);
    assert_eq!(found[0].factor, Some(BigUint::from(31_337u32).to_bytes_be()));
    // A factor above the bound is not small.
    let n = big(M127) * 65_539u32; // 65,539 is prime and above 65,537
    assert!(checker.check_rsa(&n.to_bytes_be(), &[1, 0, 1]).unwrap().is_empty());
    // ... but is found once it is a known shared prime.
    checker.add_shared_prime_list([BigUint::from(65_539u32).to_bytes_be().as_slice()]);
    let found = checker.check_rsa(&n.to_bytes_be(), &[1, 0, 1]).unwrap();
    assert_eq!(checks(&found), vec![WeakCheck::SharedPrimes]);
    assert_eq!(found[0].factor, Some(BigUint::from(65_539u32).to_bytes_be()));
    assert_eq!(checker.shared_prime_lists(), 1);
}

#[test]
fn gmpy2_products() {
    let mut checker = WeakKeyChecker::default();
    // 65,539 · 65,543 = 4,295,688,077 = 0x1_0010_0005 → magnitude little-endian.
    let product = BigUint::from(65_539u64 * 65_543);
    let mut data = vec![1, 1];
    data.extend(product.to_bytes_le());
    assert_eq!(checker.add_shared_primes(&data).unwrap(), 33);
    let n = big(M127) * 65_543u32;
    assert_eq!(checks(&checker.check_rsa(&n.to_bytes_be(), &[1, 0, 1]).unwrap()), vec![WeakCheck::SharedPrimes]);
    assert!(checker.add_shared_primes(&[1, 2, 5]).is_err()); // negative
    assert!(checker.add_shared_primes(&[1, 1]).is_err());
    assert!(checker.add_shared_primes(&[1, 1, 1]).is_err()); // product 1
    assert!(checker.add_shared_primes(&[]).is_err());
}

#[test]
fn invalid_keys_and_exponents() {
    let checker = WeakKeyChecker::default();
    let n = (big(M127) * big("618970019642690137449562111")).to_bytes_be(); // M127 · M89
    assert_eq!(checker.check_rsa(&[], &[1, 0, 1]), Err(RsaKeyError::ModulusTooSmall));
    assert_eq!(checker.check_rsa(&[2], &[1]), Err(RsaKeyError::ModulusTooSmall));
    assert_eq!(checker.check_rsa(&n, &[1]), Err(RsaKeyError::ExponentTooSmall));
    assert_eq!(checker.check_rsa(&n, &[]), Err(RsaKeyError::ExponentTooSmall));
    assert_eq!(checker.check_rsa(&n, &[4]), Err(RsaKeyError::ExponentEven));
    assert_eq!(checker.check_rsa(&[0x0f], &[0x11]), Err(RsaKeyError::ExponentNotBelowModulus));
    let huge = vec![0xffu8; 16_385 / 8 + 1];
    assert!(matches!(checker.check_rsa(&huge, &[1, 0, 1]), Err(RsaKeyError::ModulusTooLarge { .. })));
    let warn = checker.check_rsa(&n, &[3]).unwrap();
    assert_eq!(checks(&warn), vec![WeakCheck::Exponent]);
    assert!(!WeakCheck::Exponent.compromises_key());
    assert!(WeakCheck::Roca.compromises_key());
    // e = 2^256 + 1 is above the recommended range; n = M521 · M127 is larger than e.
    let n_large = ((BigUint::from(1u32) << 521u32) - 1u32) * big(M127);
    let big_e = (BigUint::from(1u32) << 256u32) + 1u32;
    let found = checker.check_rsa(&n_large.to_bytes_be(), &big_e.to_bytes_be()).unwrap();
    assert_eq!(checks(&found), vec![WeakCheck::Exponent]);
    let max_e = (BigUint::from(1u32) << 256u32) - 1u32;
    assert!(checker.check_rsa(&n_large.to_bytes_be(), &max_e.to_bytes_be()).unwrap().is_empty());
    // Non-RSA SPKIs have nothing to check; garbage is an error.
    assert_eq!(checker.check_spki(&crate::spki::ed25519_spki(&[1; 32])), Ok(vec![]));
    assert!(checker.check_spki(&[0x30]).is_err());
}

/// The four checks the badkeys oracle is compared on.
const COMPARED: [&str; 4] = ["fermat", "roca", "sharedprimes", "smallfactors"];

fn oracle_checker(dir: &std::path::Path) -> WeakKeyChecker {
    let mut checker = WeakKeyChecker::default();
    for bits in [512, 768, 1024, 2048, 4096] {
        let data = std::fs::read(dir.join(format!("keydata_shared_primes/primes{bits}.dat"))).unwrap();
        let product_bits = checker.add_shared_primes(&data).unwrap();
        assert!(product_bits > 1_000, "primes{bits}.dat gave only {product_bits} bits");
    }
    checker
}

/// Every sample in badkeys' offline results: our checks must report exactly what badkeys
/// reported for fermat, roca, sharedprimes and smallfactors.
#[test]
fn agrees_with_badkeys_on_every_sample() {
    let Some(dir) = ctwatch_testdata::data_dir("compromised_keys/badkeys_testdata") else { return };
    let checker = oracle_checker(&dir);
    let csv = std::fs::read_to_string(dir.join("badkeys_offline_results.csv")).unwrap();
    let (mut rows, mut flagged, mut disagreements) = (0, 0, Vec::new());
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.splitn(6, ',').collect();
        let (file, detected) = (fields[0], fields[4]);
        let expected: BTreeSet<&str> = detected.split(';').filter(|c| COMPARED.contains(c)).collect();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let report = crate::import::parse_import(&bytes);
        let mut ours = BTreeSet::new();
        if let Some(spki) = report.keys.iter().find_map(|k| k.spki_der.as_ref())
            && let Ok(found) = checker.check_spki(spki)
        {
            ours.extend(found.iter().map(|f| f.check.as_str()).filter(|c| COMPARED.contains(c)));
        }
        rows += 1;
        if !expected.is_empty() {
            flagged += 1;
        }
        if ours != expected {
            disagreements.push(format!("{file}: badkeys {expected:?}, ours {ours:?}"));
        }
    }
    eprintln!("badkeys agreement: {} of {rows} samples ({flagged} flagged by badkeys)", rows - disagreements.len());
    assert_eq!(rows, 59);
    assert_eq!(flagged, 8);
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// The Fermat sample given as a bare hex modulus (badkeys cannot read it as a key file).
#[test]
fn fermat_hex_modulus_sample() {
    let Some(dir) = ctwatch_testdata::data_dir("compromised_keys/badkeys_testdata") else { return };
    let text = std::fs::read_to_string(dir.join("keys/rsa-fermat-hexmodulus.txt")).unwrap();
    let n = BigUint::parse_bytes(text.trim().as_bytes(), 16).unwrap();
    assert!(n.bits() >= 2_000);
    let (p, q) = fermat_factor(&n, 100).unwrap();
    assert_eq!(&p * &q, n);
    assert_ne!(p, q);
}

/// Factors reported for the flagged samples multiply back to the modulus's divisors.
#[test]
fn reported_factors_divide_the_modulus() {
    let Some(dir) = ctwatch_testdata::data_dir("compromised_keys/badkeys_testdata") else { return };
    let checker = oracle_checker(&dir);
    for file in ["rsa-fermat-pkcs1.key", "rsa-sharedprimes.key", "rsa-smallfactors-valid.key", "rsa-fermat.crt"] {
        let bytes = std::fs::read(dir.join("keys").join(file)).unwrap();
        let report = crate::import::parse_import(&bytes);
        let spki = report.keys.iter().find_map(|k| k.spki_der.as_ref()).unwrap();
        let crate::spki::PublicKey::Rsa { modulus, .. } = crate::spki::parse_spki(spki).unwrap() else { panic!() };
        let n = BigUint::from_bytes_be(&modulus);
        let found = checker.check_spki(spki).unwrap();
        let with_factor: Vec<_> = found.iter().filter_map(|f| f.factor.as_ref()).collect();
        assert!(!with_factor.is_empty(), "{file}");
        for factor in with_factor {
            let f = BigUint::from_bytes_be(factor);
            assert!(f > BigUint::from(1u32) && f < n && (&n % &f) == BigUint::ZERO, "{file}");
        }
    }
}
