//! Keys and certificates for unit tests, generated for this crate (not from any dataset).

/// A 2048-bit RSA key generated with `openssl genpkey` for these tests, PKCS#8.
pub(crate) const RSA_PKCS8_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDjZrH6oW0AkMBA\n\
PFKsNrlvGQEgXF3gOjvT7gS8sfTqNfj8bBMU0xvijCz5YPElGQ2Zjb9VaBVPJpEN\n\
JAorWGBkXlDOjy638upR0hWkkwHJLh+kKaDBnh5m1ixRZ3hbCv1VqKUYOq291rxi\n\
Z8fwbvNWR8P+CJTQt33jqtMM1sc6+nuhrAWo1Y9yTeYwuBVDbH7tsOfh1A3E46Ur\n\
ojREDiWtvs0yXUiPfMw5MM7g3ZYPDwSsk6CicvIPhhILkCPsMQDndMcSyvb+fxAH\n\
Gd5ccLGTGBsYOuA1dl9NEpDYvDy7+OvyF2z8XZRI1pM1+sBSFnmJT36fomc5BT9R\n\
y1qOyjWNAgMBAAECggEAGbVuSTTPVzlGNuzq9tPQBpan2TIAHf3PbkASUof29bSo\n\
49bPGHNei3AIFKCIWsaYkkPjfgMgp5xnWTo6GRjqeuZr0dJ/uGWy5pGvBzZkhQtd\n\
Iejf5wvaiYtMot5lDbvyFKlWkuTtaBE7Jo/vm4fbpGVEK/fp5SfdiGvzZNfyWcEp\n\
wCXOnR9ePCMNaTurntksMCK//cmvoRCB/8gel/fsuqQhIqc1PJig6NRQ0f+EZuny\n\
M5vP6U/LCobH9MNymzIcBfgqzDjIsK1aK9pR1W3bPwxWqvIm5ydzunesqyvZvez2\n\
3LFuj8QPmEZeEHLLGdX/veVoxuBqCSjpA6umMTe0gQKBgQD2a0Qy1LPIUmdx0FJv\n\
S6F9nGcpjyGhJr5BO1HTQgk98FI4+EUXIaFHCuz+2pFbOcmguQ/3Ve+NtZs+9MH7\n\
NzdGnYFfQuNQAC7f3IP2/V2TFN2VvwHF4HVejw6g7FUCKLgtTvPJG7OXwUNPzmpg\n\
fg2oZ/um++ke+HImy/g9h1vjgQKBgQDsPiJrA0K8dOmj6wXriVtIK/u7ChKKYAkB\n\
E8BAhsp7CfgSHSVVxnyL/1hOF4KOhNuf5WHejjtJzgHsO3nvkjw5EpEkBq7uOypZ\n\
2HUJ+YNNLOINnjp7Q5qJP73y2S7wXdRNxQhaXwx/T/UZ5bu8EUGOaApWPkhqGfcb\n\
gjePH1OoDQKBgQCuWtmHac7HZ97/vdoGG6ppOVgZJMgzwTkO6M0NwITPiZJz8t7X\n\
7hiyLr3f2YDN3oaWrTrp06lLSHtPQVlbygbXdSyL3cT+3xJLnTjWcxFZt4LNqLe1\n\
bgs929UK8g14GJ2wmVOPMYWSU9GvzyqfmbFKPkDmNwoMutfyMZI03uiagQKBgEyB\n\
stPFMo+lrSSQsFIfIZi15cgk8uwtPb1DkDdVb615BQWYusaUiTEteIORyY4uKJIX\n\
zyIsHbdBKA5BFLQpP6ecA7UPFQfB0W1XVE/upj8QEgUnAPl6Y0mfgvxqqXDecird\n\
bF8X+Qwh8NZ6N9ooHHrp5q8XbIwv7H7UJPoMwyLhAoGAZgBy2oAK8Ui8B+Gf2alm\n\
gperCChuSyYppusNUD5PwZnaO3NPLN+mU2ffws59U1MVP62qRTLqnKi0ux8AmXwT\n\
yfp0wUzuXljlysOmiXIXcbQNkg4fM8MNV5u11SSHn/lwoPfA09+seZ9f+bITePP1\n\
GCU3IpG57iSOKec2VbuLvvU=\n\
-----END PRIVATE KEY-----\n\
";

/// The same key, PKCS#1 (`RSA PRIVATE KEY`).
pub(crate) const RSA_PKCS1_PEM: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEowIBAAKCAQEA42ax+qFtAJDAQDxSrDa5bxkBIFxd4Do70+4EvLH06jX4/GwT\n\
FNMb4ows+WDxJRkNmY2/VWgVTyaRDSQKK1hgZF5Qzo8ut/LqUdIVpJMByS4fpCmg\n\
wZ4eZtYsUWd4Wwr9VailGDqtvda8YmfH8G7zVkfD/giU0Ld946rTDNbHOvp7oawF\n\
qNWPck3mMLgVQ2x+7bDn4dQNxOOlK6I0RA4lrb7NMl1Ij3zMOTDO4N2WDw8ErJOg\n\
onLyD4YSC5Aj7DEA53THEsr2/n8QBxneXHCxkxgbGDrgNXZfTRKQ2Lw8u/jr8hds\n\
/F2USNaTNfrAUhZ5iU9+n6JnOQU/Uctajso1jQIDAQABAoIBABm1bkk0z1c5Rjbs\n\
6vbT0AaWp9kyAB39z25AElKH9vW0qOPWzxhzXotwCBSgiFrGmJJD434DIKecZ1k6\n\
OhkY6nrma9HSf7hlsuaRrwc2ZIULXSHo3+cL2omLTKLeZQ278hSpVpLk7WgROyaP\n\
75uH26RlRCv36eUn3Yhr82TX8lnBKcAlzp0fXjwjDWk7q57ZLDAiv/3Jr6EQgf/I\n\
Hpf37LqkISKnNTyYoOjUUNH/hGbp8jObz+lPywqGx/TDcpsyHAX4Ksw4yLCtWiva\n\
UdVt2z8MVqryJucnc7p3rKsr2b3s9tyxbo/ED5hGXhByyxnV/73laMbgagko6QOr\n\
pjE3tIECgYEA9mtEMtSzyFJncdBSb0uhfZxnKY8hoSa+QTtR00IJPfBSOPhFFyGh\n\
Rwrs/tqRWznJoLkP91XvjbWbPvTB+zc3Rp2BX0LjUAAu39yD9v1dkxTdlb8BxeB1\n\
Xo8OoOxVAii4LU7zyRuzl8FDT85qYH4NqGf7pvvpHvhyJsv4PYdb44ECgYEA7D4i\n\
awNCvHTpo+sF64lbSCv7uwoSimAJARPAQIbKewn4Eh0lVcZ8i/9YTheCjoTbn+Vh\n\
3o47Sc4B7Dt575I8ORKRJAau7jsqWdh1CfmDTSziDZ46e0OaiT+98tku8F3UTcUI\n\
Wl8Mf0/1GeW7vBFBjmgKVj5Iahn3G4I3jx9TqA0CgYEArlrZh2nOx2fe/73aBhuq\n\
aTlYGSTIM8E5DujNDcCEz4mSc/Le1+4Ysi6939mAzd6Glq066dOpS0h7T0FZW8oG\n\
13Usi93E/t8SS5041nMRWbeCzai3tW4LPdvVCvINeBidsJlTjzGFklPRr88qn5mx\n\
Sj5A5jcKDLrX8jGSNN7omoECgYBMgbLTxTKPpa0kkLBSHyGYteXIJPLsLT29Q5A3\n\
VW+teQUFmLrGlIkxLXiDkcmOLiiSF88iLB23QSgOQRS0KT+nnAO1DxUHwdFtV1RP\n\
7qY/EBIFJwD5emNJn4L8aqlw3nIq3WxfF/kMIfDWejfaKBx66eavF2yML+x+1CT6\n\
DMMi4QKBgGYActqACvFIvAfhn9mpZoKXqwgobksmKabrDVA+T8GZ2jtzTyzfplNn\n\
38LOfVNTFT+tqkUy6pyotLsfAJl8E8n6dMFM7l5Y5crDpolyF3G0DZIOHzPDDVeb\n\
tdUkh5/5cKD3wNPfrHmfX/myE3jz9RglNyKRue4kjinnNlW7i771\n\
-----END RSA PRIVATE KEY-----\n\
";

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SignatureAlgorithm};

/// A test CA: its certificate DER and an issuer that can sign CRLs and certificates.
pub(crate) struct TestCa {
    pub(crate) cert_der: Vec<u8>,
    pub(crate) issuer: Issuer<'static, KeyPair>,
}

/// A key pair for `alg` (the RSA algorithms use [`RSA_PKCS8_PEM`]).
pub(crate) fn key_for(alg: &'static SignatureAlgorithm) -> KeyPair {
    if alg == &rcgen::PKCS_RSA_SHA256 || alg == &rcgen::PKCS_RSA_SHA384 || alg == &rcgen::PKCS_RSA_SHA512 {
        KeyPair::from_pkcs8_pem_and_sign_algo(RSA_PKCS8_PEM, alg).unwrap()
    } else {
        KeyPair::generate_for(alg).unwrap()
    }
}

/// A self-signed CA named `cn` with a key for `alg`.
pub(crate) fn test_ca(cn: &str, alg: &'static SignatureAlgorithm) -> TestCa {
    let key = key_for(alg);
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, cn);
    params.distinguished_name.push(DnType::OrganizationName, "ctwatch tests");
    let cert = params.self_signed(&key).unwrap();
    TestCa { cert_der: cert.der().to_vec(), issuer: Issuer::new(params, key) }
}

/// A leaf certificate for `name` with `key`, serial `serial`, issued by `ca`.
pub(crate) fn leaf(ca: &TestCa, name: &str, key: &KeyPair, serial: &[u8]) -> Vec<u8> {
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
    params.signed_by(key, &ca.issuer).unwrap().der().to_vec()
}
