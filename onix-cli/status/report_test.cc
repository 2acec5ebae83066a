#include "onix-cli/status/report.h"

#include "gtest/gtest.h"

namespace onix::cli {
namespace {

TEST(FormatStatusText, MatchesTheDocumentedShapeWithAlignedLabels) {
  MachineStatus s{"6649-a17c", "onix-6649-a17c.conf", {}, "healthy", 2, "coherent"};
  EXPECT_EQ(FormatStatusText(s),
            "active fstx: 6649-a17c\n"
            "boot entry:  onix-6649-a17c.conf\n"
            "nix daemon:  healthy\n"
            "etc drift:   2 local overrides\n"
            "opengl:      coherent\n");
}

TEST(FormatStatusText, PutsWarningsUnderTheBootEntry) {
  MachineStatus s{
      "7-aaaa", "onix-6-bbbb.conf", {"default entry boots 6-bbbb, not 7-aaaa"}, "socket missing",
      1,        "missing"};
  EXPECT_EQ(FormatStatusText(s),
            "active fstx: 7-aaaa\n"
            "boot entry:  onix-6-bbbb.conf\n"
            "warning:     default entry boots 6-bbbb, not 7-aaaa\n"
            "nix daemon:  socket missing\n"
            "etc drift:   1 local override\n"
            "opengl:      missing\n");
}

TEST(StatusJson, CarriesEveryValue) {
  MachineStatus s{"1-abcd", "missing", {"w"}, "not running", 0, "broken: 2 links"};
  auto j = StatusJson(s);
  EXPECT_EQ(j["active_fstx"], "1-abcd");
  EXPECT_EQ(j["etc_drift"], 0);
  EXPECT_EQ(j["warnings"][0], "w");
  EXPECT_EQ(j["opengl"], "broken: 2 links");
  EXPECT_EQ(DriftWords(0), "none");
}

}  // namespace
}  // namespace onix::cli
