# Nix plane shell hook for fish (installed by onix-nix-integration seed as
# /etc/fish/conf.d/nix.fish). The guard variable makes a second source a no-op.
if not set -q __ONIX_NIX_PROFILE_SOURCED
    set -gx __ONIX_NIX_PROFILE_SOURCED 1
    set -l nix_link $HOME/.nix-profile
    set -gx NIX_PROFILES "/nix/var/nix/profiles/default $nix_link"
    set -gx NIX_REMOTE daemon
    if not set -q XDG_DATA_DIRS
        set -gx XDG_DATA_DIRS /usr/local/share:/usr/share
    end
    set -gx XDG_DATA_DIRS "$XDG_DATA_DIRS:$nix_link/share:/nix/var/nix/profiles/default/share"
    if not set -q NIX_SSL_CERT_FILE
        for cert in /etc/ssl/certs/ca-certificates.crt /etc/ssl/ca-bundle.pem /etc/ssl/certs/ca-bundle.crt /etc/pki/tls/certs/ca-bundle.crt $nix_link/etc/ssl/certs/ca-bundle.crt /nix/var/nix/profiles/default/etc/ssl/certs/ca-bundle.crt
            if test -e $cert
                set -gx NIX_SSL_CERT_FILE $cert
                break
            end
        end
    end
    set -gx PATH $nix_link/bin /nix/var/nix/profiles/default/bin $PATH
end
