//! The committed RBAC manifests: `config/rbac/role.yaml` (what the Helm chart grants) must be
//! exactly the union of the three per-controller roles the integration tests run the operator
//! with, so a permission added to one controller's role cannot be forgotten in the aggregate (or
//! slipped into the aggregate untested); and no role may grant more than ordinary object verbs.
//! Leader election's Lease rights are a namespaced Role bound in the operator's namespace only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role, RoleBinding};

const PER_CONTROLLER: [&str; 3] = [
    "role_vmafxjob.yaml",
    "role_vmafxnode.yaml",
    "role_vmafxmodeltraining.yaml",
];

/// The verbs a reconciler may be granted. Everything else (`*`, `deletecollection`, `escalate`,
/// `bind`, `impersonate`, ...) widens the operator's reach beyond managing its own objects.
const MINIMAL_VERBS: [&str; 7] = [
    "get", "list", "watch", "create", "update", "patch", "delete",
];

/// One permission: (apiGroup, resource, verb).
type Grant = (String, String, String);

fn rbac_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/rbac")
}

fn parse<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = rbac_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("failed to parse {}: {e}", path.display()))
}

fn role(file: &str) -> ClusterRole {
    parse(file)
}

/// Every (apiGroup, resource, verb) a ClusterRole grants; see [`grants_of`].
fn grants(file: &str) -> BTreeSet<Grant> {
    grants_of(file, role(file).rules.unwrap_or_default())
}

/// Every (apiGroup, resource, verb) `rules` grant; a rule naming several of each grants their
/// product. Rules by resourceName or for non-resource URLs would not be captured by this, so
/// they are refused outright.
fn grants_of(file: &str, rules: Vec<PolicyRule>) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules {
        assert!(
            rule.resource_names.is_none() && rule.non_resource_urls.is_none(),
            "{file}: resourceNames and nonResourceURLs are not used by the operator: {rule:?}"
        );
        let groups = rule.api_groups.unwrap_or_default();
        let resources = rule.resources.unwrap_or_default();
        assert!(
            !groups.is_empty() && !resources.is_empty() && !rule.verbs.is_empty(),
            "{file}: a rule without apiGroups, resources or verbs grants nothing: {groups:?} {resources:?} {:?}",
            rule.verbs
        );
        for group in &groups {
            for resource in &resources {
                for verb in &rule.verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    assert!(!out.is_empty(), "{file} grants nothing");
    out
}

fn all_files() -> Vec<&'static str> {
    let mut files = PER_CONTROLLER.to_vec();
    files.push("role.yaml");
    files
}

#[test]
fn aggregate_role_is_exactly_the_union_of_the_controller_roles() {
    let union: BTreeSet<Grant> = PER_CONTROLLER.iter().flat_map(|f| grants(f)).collect();
    let aggregate = grants("role.yaml");
    let missing: Vec<_> = union.difference(&aggregate).collect();
    let extra: Vec<_> = aggregate.difference(&union).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "role.yaml differs from the union of {PER_CONTROLLER:?}:\n  missing from role.yaml: {missing:?}\n  only in role.yaml: {extra:?}"
    );
}

#[test]
fn only_minimal_verbs_are_granted() {
    for file in all_files() {
        for (group, resource, verb) in grants(file) {
            assert!(
                MINIMAL_VERBS.contains(&verb.as_str()),
                "{file}: verb {verb:?} on {group:?}/{resource} is not one of {MINIMAL_VERBS:?}"
            );
        }
    }
}

#[test]
fn nothing_is_granted_by_wildcard() {
    for file in all_files() {
        for (group, resource, verb) in grants(file) {
            assert!(
                group != "*" && !resource.contains('*') && verb != "*",
                "{file}: wildcard in ({group:?}, {resource:?}, {verb:?})"
            );
        }
    }
}

#[test]
fn roles_are_cluster_roles_named_for_the_operator() {
    for file in all_files() {
        let role = role(file);
        let name = role.metadata.name.unwrap_or_default();
        assert!(name.starts_with("vmafx-operator"), "{file}: {name}");
        assert!(
            role.aggregation_rule.is_none(),
            "{file}: aggregation rules would hide grants"
        );
    }
}

#[test]
fn the_normalisation_sees_what_it_must() {
    // Guards the checks above against passing vacuously: the roles really grant the operator's
    // core permissions, and a rule's lists expand to their product.
    let job = grants("role_vmafxjob.yaml");
    for verb in ["get", "list", "watch", "patch"] {
        assert!(
            job.contains(&("vmafx.dev".into(), "vmafxjobs".into(), verb.into())),
            "{verb}"
        );
    }
    let aggregate = grants("role.yaml");
    for resource in [
        "vmafxjobs/status",
        "vmafxnodes/status",
        "vmafxmodeltrainings/status",
    ] {
        assert!(aggregate.contains(&("vmafx.dev".into(), resource.into(), "patch".into())));
    }
}

const LEADER_ROLE: &str = "leader_election_role.yaml";
const LEADER_BINDING: &str = "leader_election_role_binding.yaml";

#[test]
fn leases_are_granted_only_by_the_namespaced_leader_election_role() {
    for file in all_files() {
        for (group, resource, verb) in grants(file) {
            assert!(
                group != "coordination.k8s.io",
                "{file}: ({group:?}, {resource:?}, {verb:?}) belongs in {LEADER_ROLE}, a namespaced Role"
            );
        }
    }
    let role: Role = parse(LEADER_ROLE);
    assert_eq!(role.metadata.namespace.as_deref(), Some("vmafx-system"));
    let expected: BTreeSet<Grant> = ["get", "create", "update"]
        .map(|verb| ("coordination.k8s.io".into(), "leases".into(), verb.into()))
        .into();
    assert_eq!(
        grants_of(LEADER_ROLE, role.rules.unwrap_or_default()),
        expected
    );

    let binding: RoleBinding = parse(LEADER_BINDING);
    assert_eq!(binding.metadata.namespace, role.metadata.namespace);
    assert_eq!(binding.role_ref.kind, "Role");
    assert_eq!(Some(binding.role_ref.name), role.metadata.name);
    let subjects = binding.subjects.unwrap_or_default();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert_eq!(subjects[0].kind, "ServiceAccount");
    assert_eq!(subjects[0].name, "vmafx-operator");
    assert_eq!(subjects[0].namespace, role.metadata.namespace);
}
