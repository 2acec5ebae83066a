"""A libFuzzer target replayed over its seed corpus as a Bazel test."""

load("//bazel:copts.bzl", "ONIX_TEST_COPTS")

def fuzz_replay_test(name, fuzzer, deps, corpus_visibility = None):
    """`name`: a cc_test running `fuzzer` (a LLVMFuzzerTestOneInput file) over every file of
    this package's corpus/ with gcc, so the target keeps compiling and the seeds stay clean.
    tests/suites/stone_fuzz.sh (or boulder.sh) fuzzes the same file with clang from the same
    corpus (docs/testing.md). Also defines the `corpus` filegroup."""
    native.filegroup(
        name = "corpus",
        srcs = native.glob(["corpus/*"]),
        visibility = corpus_visibility,
    )
    native.cc_test(
        name = name,
        size = "small",
        srcs = [fuzzer],
        args = [native.package_name() + "/corpus"],
        copts = ONIX_TEST_COPTS,
        data = [":corpus"],
        deps = deps + ["//tests/testing:fuzz_replay_main"],
    )
