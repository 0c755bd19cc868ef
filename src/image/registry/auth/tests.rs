//! Tests of the parent module.

use super::*;

#[test]
fn challenge_headers() {
    let bearer = |realm: &str, service: Option<&str>, scope: Option<&str>| Challenge::Bearer {
        realm: realm.into(),
        service: service.map(Into::into),
        scope: scope.map(Into::into),
    };
    let cases: Vec<(&str, Result<Challenge, &str>)> = vec![
        (r#"Basic realm="Registry Realm""#, Ok(Challenge::Basic)),
        ("basic", Ok(Challenge::Basic)),
        (
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
            Ok(bearer(
                "https://auth.docker.io/token",
                Some("registry.docker.io"),
                Some("repository:library/alpine:pull,push"),
            )),
        ),
        (
            r#"Bearer realm = "http://127.0.0.1:9/t" , service=reg"#,
            Ok(bearer("http://127.0.0.1:9/t", Some("reg"), None)),
        ),
        (
            r#"Bearer realm="https://a/t",scope="x\"y""#,
            Ok(bearer("https://a/t", None, Some("x\"y"))),
        ),
        (r#"Bearer service="x""#, Err("no realm")),
        (
            r#"Bearer realm="file:///etc/passwd""#,
            Err("not an http(s) URL"),
        ),
        (r#"Bearer realm="https://a"#, Err("unterminated")),
        ("Negotiate abc", Err("`negotiate` is not supported")),
        ("", Err("empty")),
    ];
    for (header, want) in cases {
        match (parse_challenge(header), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{header}"),
            (Err(got), Err(fragment)) => assert!(got.contains(fragment), "{header}: {got}"),
            (got, want) => panic!("{header}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn loopback_and_insecure_hosts() {
    let options = ClientOptions {
        insecure_registries: vec!["build-box:5000".into()],
        ..ClientOptions::default()
    };
    let cases = [
        ("localhost", "http"),
        ("localhost:5000", "http"),
        ("127.0.0.1:5000", "http"),
        ("127.8.9.10", "http"),
        ("[::1]:5000", "http"),
        ("::1", "http"),
        ("build-box:5000", "http"),
        ("build-box:5001", "https"),
        ("128.0.0.1:5000", "https"),
        ("ghcr.io", "https"),
        ("registry-1.docker.io", "https"),
    ];
    for (host, scheme) in cases {
        assert_eq!(options.scheme_for(host), scheme, "{host}");
    }
}

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn options_from_environment() {
    let o = ClientOptions::from_lookup(lookup(&[
        (ENV_INSECURE, " a:1, b:2 ,,"),
        (ENV_USER, "ci"),
        (ENV_PASSWORD, "hunter2"),
        ("HOME", "/home/x"),
    ]))
    .ok();
    let o = o.as_ref();
    assert_eq!(
        o.map(|o| o.insecure_registries.clone()),
        Some(vec!["a:1".to_string(), "b:2".to_string()])
    );
    assert_eq!(
        o.and_then(|o| o.docker_config_dir.clone()),
        Some(PathBuf::from("/home/x/.docker"))
    );
    let creds = o.and_then(|o| o.credentials_for("any.io").ok().flatten());
    assert_eq!(creds.as_ref().map(Credentials::username), Some("ci"));
    // Debug output must not leak the password.
    assert!(!format!("{o:?}").contains("hunter2"));
    let partial = ClientOptions::from_lookup(lookup(&[(ENV_USER, "ci")]));
    assert!(matches!(
        partial,
        Err(RegistryError::PartialEnvCredentials {
            missing: ENV_PASSWORD,
            ..
        })
    ));
}

#[test]
fn docker_config_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let enc = |s: &str| BASE64.encode(s);
    let config = serde_json::json!({
        "auths": {
            "https://index.docker.io/v1/": { "auth": enc("hubuser:hubpass") },
            "ghcr.io": { "auth": enc("gh:tok:with:colons") },
            "http://localhost:5000/v2/": { "auth": enc("local:pw") },
            "empty.io": {},
            "broken.io": { "auth": "%%%" },
            "nocolon.io": { "auth": enc("justuser") }
        },
        "credsStore": "desktop"
    });
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let options = ClientOptions::from_lookup(lookup(&[
        ("DOCKER_CONFIG", dir.path().to_str().unwrap()),
        ("HOME", "/nonexistent"),
    ]))
    .unwrap();
    let user_pass = |registry: &str| {
        options
            .credentials_for(registry)
            .map(|c| c.map(|c| (c.username.clone(), c.password.0.clone())))
    };
    let pair = |u: &str, p: &str| Some((u.to_string(), p.to_string()));
    assert_eq!(
        user_pass("docker.io").ok(),
        Some(pair("hubuser", "hubpass"))
    );
    assert_eq!(
        user_pass("ghcr.io").ok(),
        Some(pair("gh", "tok:with:colons"))
    );
    assert_eq!(user_pass("localhost:5000").ok(), Some(pair("local", "pw")));
    assert_eq!(user_pass("empty.io").ok(), Some(None));
    assert_eq!(user_pass("quay.io").ok(), Some(None));
    for registry in ["broken.io", "nocolon.io"] {
        match user_pass(registry) {
            Err(e @ RegistryError::DockerConfig { .. }) => {
                let text = e.to_string();
                assert!(text.contains(registry), "{text}");
                assert!(!text.contains("justuser"), "secret in error: {text}");
            }
            other => panic!("{registry}: {other:?}"),
        }
    }
    // The source names the file for error messages.
    let hub = options.credentials_for("docker.io").ok().flatten();
    assert!(hub.is_some_and(|c| c.source().contains("config.json")));
    // No config.json at all is not an error.
    let none = ClientOptions {
        docker_config_dir: Some(dir.path().join("missing")),
        ..options.clone()
    };
    assert_eq!(none.credentials_for("docker.io").ok(), Some(None));
    std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
    assert!(matches!(
        options.credentials_for("docker.io"),
        Err(RegistryError::DockerConfig { .. })
    ));
}
