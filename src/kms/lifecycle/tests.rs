use super::*;
use crate::object::attr::Attribute;

const T0: i64 = 1_800_000_000;

fn managed(now: i64, period: CK_ULONG) -> AttrMap {
    let mut a = AttrMap::new();
    let mut put = |at: Attribute| {
        a.insert(at.ty, at.value);
    };
    put(Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY));
    put(Attribute::ulong(CKA_KEY_TYPE, CKK_AES));
    put(Attribute::bool(CKA_TOKEN, true));
    put(Attribute::bool(CKA_SENSITIVE, true));
    put(Attribute::bool(CKA_EXTRACTABLE, false));
    put(Attribute::bool(CKA_LOCAL, true));
    put(Attribute::new(CKA_VALUE, vec![1; 32]));
    put(Attribute::ulong(CKA_SOFTKMS_ROTATION_PERIOD, period));
    on_create(&mut a, now).unwrap();
    a
}

fn obj(a: &AttrMap) -> Object {
    Object::new(1, None, a.clone())
}

fn set(a: &AttrMap, t: Vec<Attribute>, now: i64) -> Result<AttrMap> {
    let old = obj(a);
    let mut new = a.clone();
    for at in &t {
        new.insert(at.ty, at.value.clone());
    }
    on_set(&old, &mut new, &t, now)?;
    Ok(new)
}

#[test]
fn a_managed_key_starts_at_version_one() {
    let a = managed(T0, 0);
    let o = obj(&a);
    assert_eq!(current_version(&o), 1);
    assert_eq!(get_ulong(&a, CKA_SOFTKMS_NEXT_ROTATION), Some(0));
    assert_eq!(decrypt_versions(&o).unwrap().len(), 1);
    assert_eq!(
        get_ulong(&a, CKA_SOFTKMS_ORIGIN),
        Some(SOFTKMS_ORIGIN_SOFTKMS)
    );
}

#[test]
fn rotation_on_demand_keeps_old_versions_for_decryption() {
    let a = managed(T0, 0);
    let a = set(&a, vec![Attribute::bool(CKA_SOFTKMS_ROTATE, true)], T0 + 10).unwrap();
    let a = set(&a, vec![Attribute::bool(CKA_SOFTKMS_ROTATE, true)], T0 + 20).unwrap();
    let o = obj(&a);
    assert_eq!(current_version(&o), 3);
    let v = decrypt_versions(&o).unwrap();
    assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 2, 1]);
    assert_eq!(o.get(CKA_VALUE).unwrap(), &v[0].1[..]);
    assert_ne!(v[0].1, v[1].1);
    // The minimum decryption version cuts the oldest off, for good.
    let a = set(
        &a,
        vec![Attribute::ulong(CKA_SOFTKMS_MIN_DECRYPT_VERSION, 2)],
        T0 + 30,
    )
    .unwrap();
    assert_eq!(
        decrypt_versions(&obj(&a))
            .unwrap()
            .iter()
            .map(|x| x.0)
            .collect::<Vec<_>>(),
        vec![3, 2]
    );
    assert!(set(
        &a,
        vec![Attribute::ulong(CKA_SOFTKMS_MIN_DECRYPT_VERSION, 1)],
        T0
    )
    .is_err());
    assert!(set(
        &a,
        vec![Attribute::ulong(CKA_SOFTKMS_MIN_DECRYPT_VERSION, 4)],
        T0
    )
    .is_err());
}

#[test]
fn automatic_rotation_happens_at_the_first_use_after_it_is_due() {
    let a = managed(T0, 90);
    let due = T0 + 90 * DAY;
    assert!(matches!(
        check_use(&obj(&a), due - 1).unwrap(),
        UseCheck::Ready
    ));
    match check_use(&obj(&a), due + 5).unwrap() {
        UseCheck::Replace(new) => {
            assert_eq!(current_version(&obj(&new)), 2);
            assert_eq!(
                get_ulong(&new, CKA_SOFTKMS_NEXT_ROTATION),
                Some(time_ulong(due + 5 + 90 * DAY))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(set(
        &a,
        vec![Attribute::ulong(CKA_SOFTKMS_ROTATION_PERIOD, 89)],
        T0
    )
    .is_err());
    assert!(set(
        &a,
        vec![Attribute::ulong(CKA_SOFTKMS_ROTATION_PERIOD, 2561)],
        T0
    )
    .is_err());
    let off = set(
        &a,
        vec![Attribute::ulong(CKA_SOFTKMS_ROTATION_PERIOD, 0)],
        T0,
    )
    .unwrap();
    assert!(matches!(
        check_use(&obj(&off), due + 5).unwrap(),
        UseCheck::Ready
    ));
}

#[test]
fn disable_enable_and_scheduled_deletion() {
    let a = managed(T0, 0);
    let st = |s| vec![Attribute::ulong(CKA_SOFTKMS_KEY_STATE, s)];
    let d = set(&a, st(SOFTKMS_KEY_STATE_DISABLED), T0).unwrap();
    assert!(matches!(
        check_use(&obj(&d), T0),
        Err(Error::KeyFunctionNotPermitted(_))
    ));
    let e = set(&d, st(SOFTKMS_KEY_STATE_ENABLED), T0).unwrap();
    assert!(matches!(check_use(&obj(&e), T0).unwrap(), UseCheck::Ready));
    // Deletion with a 7-day window; unusable while pending; cancel → Disabled.
    let mut t = st(SOFTKMS_KEY_STATE_PENDING_DELETION);
    t.push(Attribute::ulong(CKA_SOFTKMS_PENDING_WINDOW, 7));
    let p = set(&e, t, T0).unwrap();
    assert_eq!(
        get_ulong(&p, CKA_SOFTKMS_DELETION_TIME),
        Some(time_ulong(T0 + 7 * DAY))
    );
    assert!(matches!(
        check_use(&obj(&p), T0 + DAY),
        Err(Error::KeyFunctionNotPermitted(_))
    ));
    assert!(matches!(
        check_use(&obj(&p), T0 + 7 * DAY).unwrap(),
        UseCheck::Destroy
    ));
    assert!(deletion_due(&obj(&p), T0 + 7 * DAY));
    let c = set(&p, st(SOFTKMS_KEY_STATE_DISABLED), T0 + DAY).unwrap();
    assert_eq!(get_ulong(&c, CKA_SOFTKMS_DELETION_TIME), Some(0));
    assert!(!deletion_due(&obj(&c), T0 + 100 * DAY));
    // No way from PendingDeletion straight to Enabled, none into PendingImport.
    assert!(set(&p, st(SOFTKMS_KEY_STATE_ENABLED), T0).is_err());
    assert!(set(&a, st(SOFTKMS_KEY_STATE_PENDING_IMPORT), T0).is_err());
    let mut bad = st(SOFTKMS_KEY_STATE_PENDING_DELETION);
    bad.push(Attribute::ulong(CKA_SOFTKMS_PENDING_WINDOW, 31));
    assert!(set(&a, bad, T0).is_err());
    // A disabled key does not rotate.
    assert!(set(&d, vec![Attribute::bool(CKA_SOFTKMS_ROTATE, true)], T0).is_err());
}

#[test]
fn imported_material_expires_into_pending_import() {
    let mut a = managed(T0, 0);
    a.insert(CKA_LOCAL, Zeroizing::new(vec![CK_FALSE]));
    a.insert(
        CKA_SOFTKMS_VALID_TO,
        Zeroizing::new(time_ulong(T0 + 100).to_ne_bytes().to_vec()),
    );
    on_create(&mut a, T0).unwrap();
    assert_eq!(
        get_ulong(&a, CKA_SOFTKMS_ORIGIN),
        Some(SOFTKMS_ORIGIN_EXTERNAL)
    );
    assert!(a.contains_key(&CKA_SOFTKMS_MATERIAL_DIGEST));
    assert!(matches!(
        check_use(&obj(&a), T0 + 99).unwrap(),
        UseCheck::Ready
    ));
    match check_use(&obj(&a), T0 + 100).unwrap() {
        UseCheck::ReplaceAndDeny(new, _) => {
            assert_eq!(
                get_ulong(&new, CKA_SOFTKMS_KEY_STATE),
                Some(SOFTKMS_KEY_STATE_PENDING_IMPORT)
            );
            assert!(new.get(&CKA_VALUE).is_none_or(|v| v.is_empty()));
            assert!(decrypt_versions(&obj(&new)).unwrap().is_empty());
            assert!(check_use(&obj(&new), T0 + 101).is_err());
        }
        other => panic!("{other:?}"),
    }
    // Generated material never expires; only imported keys take CKA_SOFTKMS_VALID_TO.
    let mut g = managed(T0, 0);
    g.insert(
        CKA_SOFTKMS_VALID_TO,
        Zeroizing::new(time_ulong(T0 + 100).to_ne_bytes().to_vec()),
    );
    assert!(on_create(&mut g, T0).is_err());
}

#[test]
fn imported_material_takes_no_rotation_period() {
    let mut a = managed(T0, 0);
    a.insert(CKA_LOCAL, Zeroizing::new(vec![CK_FALSE]));
    let mut with_period = a.clone();
    with_period.insert(
        CKA_SOFTKMS_ROTATION_PERIOD,
        Zeroizing::new(CK_ULONG::from(90u8).to_ne_bytes().to_vec()),
    );
    assert!(matches!(
        on_create(&mut with_period, T0),
        Err(Error::TemplateInconsistent(_))
    ));
    on_create(&mut a, T0).unwrap();
    assert!(matches!(
        set(
            &a,
            vec![Attribute::ulong(CKA_SOFTKMS_ROTATION_PERIOD, 90)],
            T0
        ),
        Err(Error::TemplateInconsistent(_))
    ));
    assert!(set(
        &a,
        vec![Attribute::ulong(CKA_SOFTKMS_ROTATION_PERIOD, 0)],
        T0
    )
    .is_ok());
    // A period already stored (by an older version) never blocks the key.
    let mut stored = a.clone();
    stored.insert(
        CKA_SOFTKMS_NEXT_ROTATION,
        Zeroizing::new(time_ulong(T0 + 1).to_ne_bytes().to_vec()),
    );
    assert!(matches!(
        check_use(&obj(&stored), T0 + 2).unwrap(),
        UseCheck::Ready
    ));
}

#[test]
fn unmanaged_keys_have_states_but_no_versions() {
    let mut a = AttrMap::new();
    a.insert(
        CKA_CLASS,
        Zeroizing::new(CKO_SECRET_KEY.to_ne_bytes().to_vec()),
    );
    a.insert(CKA_KEY_TYPE, Zeroizing::new(CKK_AES.to_ne_bytes().to_vec()));
    a.insert(CKA_TOKEN, Zeroizing::new(vec![CK_FALSE]));
    a.insert(CKA_VALUE, Zeroizing::new(vec![2; 16]));
    on_create(&mut a, T0).unwrap();
    assert!(!a.contains_key(&CKA_SOFTKMS_VERSIONS));
    assert!(set(&a, vec![Attribute::bool(CKA_SOFTKMS_ROTATE, true)], T0).is_err());
    let mut b = a.clone();
    b.insert(
        CKA_SOFTKMS_ROTATION_PERIOD,
        Zeroizing::new(CK_ULONG::from(90u8).to_ne_bytes().to_vec()),
    );
    assert!(on_create(&mut b, T0).is_err());
}
