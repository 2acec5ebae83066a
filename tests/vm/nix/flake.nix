# The offline "nixpkgs" of the Nix VM scenarios: a path flake with no inputs, registered as
# `nixpkgs` in the guest's system registry. Every package is a builtins.derivation run by the
# guest's own static busybox, kept inside the flake's tools/ (so argv[0] ends in "busybox").
{ outputs = { self }: let
    system = "x86_64-linux";
    bb = "${self}/tools/busybox";
    mk = name: script: builtins.derivation {
      inherit name system; builder = bb; args = [ "sh" "-ec" script ]; };
  in { packages.${system} = {
      ripgrep = mk "ripgrep-13.0.0" ''
        ${bb} mkdir -p $out/bin; ${bb} cp ${self}/tools/rg $out/bin/rg; ${bb} chmod 555 $out/bin/rg'';
      # Built but never rooted: what `nix store gc` must delete.
      scratch = mk "onix-scratch-1" ''
        ${bb} mkdir -p $out; ${bb} echo scratch > $out/data'';
      # A build that runs long enough to be killed in the middle (daemon-killed-mid-build).
      slow = mk "onix-slow-1" ''
        ${bb} sleep 15; ${bb} mkdir -p $out; ${bb} echo built > $out/result'';
      default = self.packages.${system}.ripgrep; }; }; }
