use super::*;

/// `value` with every byte as `%XX`, in upper or lower case.
fn every_byte_escaped(value: &str, lower: bool) -> String {
    value
        .bytes()
        .map(|b| {
            if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn every_form_of_a_secret_is_masked() {
    let mut r = Redactor::default();
    r.add("s3cr3t-t0ken/+x");
    let text = format!(
        "plain s3cr3t-t0ken/+x b64 {} url {} pct {}",
        STANDARD.encode("s3cr3t-t0ken/+x"),
        URL_SAFE_NO_PAD.encode("s3cr3t-t0ken/+x"),
        "s3cr3t-t0ken%2F%2Bx",
    );
    assert_eq!(r.redact(&text), "plain *** b64 *** url *** pct ***");
    assert_eq!(r.redact("nothing here"), "nothing here");
}

#[test]
fn base64_of_a_longer_text_holding_the_secret_is_masked_wherever_it_starts() {
    let secret = "p@ss w/rd+Qz&=1";
    let mut r = Redactor::default();
    r.add(secret);
    for prefix in ["", "u:", "us:", "use:", "user:"] {
        for suffix in ["", "\n", "!", "@host"] {
            let whole = format!("{prefix}{secret}{suffix}");
            for engine in [STANDARD, URL_SAFE_NO_PAD] {
                let encoded = engine.encode(&whole);
                let out = r.redact(&encoded);
                assert!(out.contains(MASK), "{whole:?} as {encoded} gave {out}");
                // What is left shows at most the bits next to the secret's ends.
                let left = out.len() - MASK.len();
                assert!(left <= encoded.len() - 16, "{whole:?}: {encoded} -> {out}");
            }
        }
    }
    assert_eq!(
        r.redact("Authorization: Basic dTpwQHNzIHcvcmQrUXomPTE="),
        "Authorization: Basic dTp***E="
    );
}

#[test]
fn url_encodings_are_masked_in_any_spelling() {
    let secret = "p@ss w/rd+Qz&=1";
    let mut r = Redactor::default();
    r.add(secret);
    for spelling in [
        "p%40ss%20w%2Frd%2BQz%26%3D1".to_owned(),
        "p%40ss+w%2Frd%2BQz%26%3D1".to_owned(),
        "p%40ss%20w%2frd%2bQz%26%3d1".to_owned(),
        "p@ss%20w/rd+Qz&=1".to_owned(),
        every_byte_escaped(secret, false),
        every_byte_escaped(secret, true),
    ] {
        assert_eq!(
            r.redact(&format!("a={spelling}&b=2")),
            "a=***&b=2",
            "{spelling}"
        );
    }
    // A `+` stands for a space, never for a different byte, and escapes must decode to it.
    assert_eq!(
        r.redact("p%40ss+w%2Frd+Qz%26%3D2"),
        "p%40ss+w%2Frd+Qz%26%3D2"
    );
    assert_eq!(r.redact("p%41ss w/rd+Qz&=1"), "p%41ss w/rd+Qz&=1");
}

#[test]
fn a_secret_holding_a_percent_sign_is_masked_as_it_is_and_escaped() {
    let mut r = Redactor::default();
    r.add("100%ab cd");
    assert_eq!(r.redact("x 100%ab cd y"), "x *** y");
    assert_eq!(r.redact("x 100%25ab%20cd y"), "x *** y");
}

#[test]
fn each_line_of_a_secret_of_several_lines_is_masked() {
    let mut r = Redactor::default();
    r.add("-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\n-----END KEY-----\n");
    assert_eq!(r.redact("line: AAAAB3NzaC1yc2E"), "line: ***");
    assert_eq!(r.redact("-----END KEY-----"), "***");
}

#[test]
fn a_cut_masks_a_secret_that_straddles_it_whole() {
    let mut r = Redactor::default();
    r.add("hunter22");
    let text = format!("{}hunter22 and more", "x".repeat(10));
    for cut in 0..text.len() {
        let out = r.redact_cut(&text, cut);
        assert!(!out.contains("hun"), "cut {cut}: {out}");
        if cut > 10 {
            assert_eq!(&out[..13], "xxxxxxxxxx***", "cut {cut}");
        } else {
            assert_eq!(out, "x".repeat(cut), "cut {cut}");
        }
    }
    assert!(r.longest() >= "hunter22".len() * 3);
    // A cut inside a character moves back to its start.
    assert_eq!(r.redact_cut("aé", 2), "a");
}

#[test]
fn json_values_are_masked_in_keys_and_strings() {
    let mut r = Redactor::default();
    r.add("hunter22");
    let mut v = serde_json::json!({"hunter22": ["x hunter22 y", 1]});
    r.redact_json(&mut v);
    assert_eq!(v, serde_json::json!({"***": ["x *** y", 1]}));
}

#[test]
fn a_secret_quoted_by_debug_or_json_is_masked() {
    let secret = "p\"q\\r-S3cr3t\tend";
    let mut r = Redactor::default();
    r.add(secret);
    let debug = format!("bad token {:?}", format!("{secret}\n"));
    assert_eq!(r.redact(&debug), "bad token \"***\\n\"");
    let json = serde_json::json!({ "token": secret }).to_string();
    assert_eq!(r.redact(&json), "{\"token\":\"***\"}");
    // A short secret's quoted forms count as the secret itself does.
    let mut short = Redactor::default();
    short.add("\"");
    assert_eq!(short.redact("say \\\" and \""), "say *** and ***");
}

#[test]
fn a_line_of_a_secret_of_several_lines_quoted_by_debug_or_json_is_masked() {
    let key = "{\n  \"type\": \"service_account\",\n  \"private_key_id\": \"d3adb33fc0ffee1234567890\",\n}\n";
    let mut r = Redactor::default();
    r.add(key);
    // `grep private_key_id` of the key file, in an error's `format!("{:?}", out.stdout)`.
    let line = "  \"private_key_id\": \"d3adb33fc0ffee1234567890\",\n";
    let debug = format!("bad token {line:?}");
    assert_eq!(r.redact(&debug), "bad token \"***\\n\"");
    let json = serde_json::json!({ "out": line }).to_string();
    assert_eq!(r.redact(&json), "{\"out\":\"***\\n\"}");
    // A short line's quoted forms are not masked on their own, as the line itself is not.
    assert_eq!(r.redact("a \"}\" here"), "a \"}\" here");
}

#[test]
fn a_secret_split_by_colour_codes_is_masked_with_the_codes_inside_it() {
    let mut r = Redactor::default();
    r.add("s3cr3t-t0ken");
    let split = "a \u{1b}[1ms3cr3t\u{1b}[0m-t0\u{1b}[31mken\u{1b}[0m b";
    assert_eq!(r.redact(split), "a \u{1b}[1m***\u{1b}[0m b");
    assert_eq!(
        crate::report::shown(&r.redact(split)),
        "a *** b",
        "what every view shows"
    );
    // A form found as it is and one found once the codes are gone make one mask.
    let both = "s3cr3t-t0ken\u{1b}[0m s3cr\u{1b}[0m3t-t0ken";
    assert_eq!(r.redact(both), "***\u{1b}[0m ***");
    // Cut inside the secret: masked whole, so no part of it shows.
    assert_eq!(r.redact_cut(split, 8), "a \u{1b}[1m***");
    assert_eq!(
        r.redact("\u{1b}[31mplain\u{1b}[0m"),
        "\u{1b}[31mplain\u{1b}[0m"
    );
}
