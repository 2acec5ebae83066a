"""Compiler flags for ONIX code (abseil's gcc warning list plus -Werror)."""

ONIX_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wcast-qual",
    "-Wconversion-null",
    "-Wformat-security",
    "-Wmissing-declarations",
    "-Woverlength-strings",
    "-Wpointer-arith",
    "-Wundef",
    "-Wunused-local-typedefs",
    "-Wunused-result",
    "-Wvarargs",
    "-Wvla",
    "-Wwrite-strings",
    "-Wno-unused-parameter",
    # g++ 12 reports std::string copies as overlapping memcpy at -O2 (GCC bug 105329), which
    # hits the optimised host builds of the man-page generators.
    "-Wno-restrict",
    "-Werror",
    "-Werror=unused-result",
]

# gtest's macros expand to declarations -Wmissing-declarations dislikes.
ONIX_TEST_COPTS = [c for c in ONIX_COPTS if c != "-Wmissing-declarations"]
