# After every machine switch (install, update, rollback) the seam is converged again and the
# graphics bridge re-pointed at the new active /usr. Every /usr change matches on purpose.
name = onix-nix-integration
match = /usr/*
run = /usr/bin/onix-nix-integration sync --root /
order = 90
