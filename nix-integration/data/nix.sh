# Nix plane shell hook for sh, bash and zsh (installed by onix-nix-integration seed as
# /etc/profile.d/nix.sh). Sourcing it twice changes nothing: the guard variable stops it.
if [ -z "${__ONIX_NIX_PROFILE_SOURCED:-}" ]; then
  __ONIX_NIX_PROFILE_SOURCED=1
  export __ONIX_NIX_PROFILE_SOURCED
  NIX_LINK="$HOME/.nix-profile"
  export NIX_PROFILES="/nix/var/nix/profiles/default $NIX_LINK"
  export NIX_REMOTE=daemon
  export XDG_DATA_DIRS="${XDG_DATA_DIRS:-/usr/local/share:/usr/share}:$NIX_LINK/share:/nix/var/nix/profiles/default/share"
  if [ -z "${NIX_SSL_CERT_FILE:-}" ]; then
    for __onix_cert in /etc/ssl/certs/ca-certificates.crt /etc/ssl/ca-bundle.pem \
        /etc/ssl/certs/ca-bundle.crt /etc/pki/tls/certs/ca-bundle.crt \
        "$NIX_LINK/etc/ssl/certs/ca-bundle.crt" \
        /nix/var/nix/profiles/default/etc/ssl/certs/ca-bundle.crt; do
      if [ -e "$__onix_cert" ]; then
        export NIX_SSL_CERT_FILE="$__onix_cert"
        break
      fi
    done
    unset __onix_cert
  fi
  export PATH="$NIX_LINK/bin:/nix/var/nix/profiles/default/bin:$PATH"
  unset NIX_LINK
fi
