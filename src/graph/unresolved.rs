//! Addresses that may exist but could not be resolved.
//!
//! A run reports every independent error at once: the graph of a host is
//! built from the resources that did resolve, even when others failed (a
//! typo in a field, a missing module input, an unknown kind). A reference
//! to one of the failed resources is then not *dangling* — the resource is
//! declared, it is just broken — and reporting it would bury the real error
//! under its consequences. This set says which references to keep quiet
//! about: exact addresses (a failed resource with an `id:`), whole kinds (a
//! failed resource whose name is only known once it parses), or everything
//! (a module that could not be loaded at all: its contents are unknown).

use std::collections::BTreeSet;

/// What failed to resolve, as far as addresses are concerned.
#[derive(Debug, Clone, Default)]
pub struct Unresolved {
    /// Something of unknown content failed (a module that did not load):
    /// no reference can be called dangling.
    pub anything: bool,
    /// Kinds with a failed resource whose name is unknown.
    pub kinds: BTreeSet<String>,
    /// Exact addresses of failed resources.
    pub addresses: BTreeSet<String>,
}

impl Unresolved {
    /// Whether nothing failed.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        !self.anything && self.kinds.is_empty() && self.addresses.is_empty()
    }

    /// A failed resource of `kind`, with its address when known.
    pub fn resource(&mut self, kind: &str, address: Option<String>) {
        match address {
            Some(a) => {
                self.addresses.insert(a);
            }
            None => {
                self.kinds.insert(kind.to_string());
            }
        }
    }

    pub fn merge(&mut self, other: &Unresolved) {
        self.anything |= other.anything;
        self.kinds.extend(other.kinds.iter().cloned());
        self.addresses.extend(other.addresses.iter().cloned());
    }

    /// Whether `address` may name a resource that failed to resolve.
    pub fn may_declare(&self, address: &str) -> bool {
        // `module.web.service[nginx]` names `service[nginx]` inside `web`.
        let address = match (address.strip_prefix("module."), address.find('[')) {
            (Some(_), Some(b)) => address[..b]
                .rfind('.')
                .map_or(address, |dot| &address[dot + 1..]),
            _ => address,
        };
        if self.anything || self.addresses.contains(address) {
            return true;
        }
        match address.split_once('[') {
            Some((kind, _)) => self.kinds.contains(kind),
            // `module.NAME` of a use that failed is known to the resolver;
            // a bare name is a mistake of its own.
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_addresses_and_anything() {
        let mut u = Unresolved::default();
        assert!(u.is_empty());
        assert!(!u.may_declare("package[nginx]"));
        u.resource("package", None);
        u.resource("file", Some("file[motd]".into()));
        assert!(u.may_declare("package[nginx]"));
        assert!(u.may_declare("file[motd]"));
        assert!(!u.may_declare("file[/etc/motd]"));
        assert!(!u.may_declare("service[nginx]"));
        assert!(!u.may_declare("nginx"));
        assert!(u.may_declare("module.web.package[nginx]"));
        assert!(u.may_declare("module.a.b.file[motd]"));
        assert!(!u.may_declare("module.web.service[nginx]"));
        u.anything = true;
        assert!(u.may_declare("service[nginx]"));
    }
}
