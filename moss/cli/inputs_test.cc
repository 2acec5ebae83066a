// `moss inspect FILE` and `moss info NAME` show a stone's provenance (Meta tag 17): one line
// per input in human output, an "inputs" array in --json, through a repository index too.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/stone/stone.h"
#include "nlohmann/json.hpp"
#include "tests/testing/temp_root.h"

namespace onix {
namespace {

using onix::testing::RunCommand;

const std::vector<std::string> kInputs = {
    "upstream https://example.org/demo-1.0.tar.gz sha256:" + std::string(64, 'a'),
    "debian-source demo 1:1.0-4+deb12u1 demo_1.0.orig.tar.bz2 sha256:" + std::string(64, 'b')};

class InputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("inputs-test-");
    ASSERT_TRUE(t.ok()) << t.status();
    tmp_.emplace(std::move(*t));
    ASSERT_TRUE(fs::MkdirAt(tmp_->fd(), "repo", 0755).ok());
    stone::Meta m;
    m.name = "demo";
    m.version = "1.0";
    m.source_release = 1;
    m.architecture = "x86_64";
    m.summary = "a demo";
    m.inputs = kInputs;
    stone::LayoutEntry f;
    f.path = "demo";
    f.digest = Sha256Of("x");
    f.size = 1;
    stone_ = tmp_->path() + "/repo/demo-1.0-1-1-x86_64.stone";
    ASSERT_TRUE(
        stone::WriteBinaryStoneFrom(
            m, {f},
            [](const stone::LayoutEntry&,
               const std::function<absl::Status(std::string_view)>& emit) { return emit("x"); },
            stone_)
            .ok());
  }
  std::optional<TempDir> tmp_;
  std::string stone_;
  const std::string moss_ = "moss/moss";
};

TEST_F(InputsTest, InspectShowsEveryInputInOrder) {
  const std::string human = RunCommand(StrCat(moss_, " inspect ", stone_));
  EXPECT_NE(human.find(StrCat("inputs:\n  ", kInputs[0], "\n  ", kInputs[1], "\n")),
            std::string::npos)
      << human;
  const auto j = nlohmann::json::parse(RunCommand(StrCat(moss_, " inspect --json ", stone_)));
  EXPECT_EQ(j["meta"]["inputs"].get<std::vector<std::string>>(), kInputs);
}

TEST_F(InputsTest, InfoShowsTheInputsOfARepositoryPackage) {
  auto root = onix::testing::TempRoot::Make();
  ASSERT_TRUE(root.ok()) << root.status();
  const std::string d = StrCat(moss_, " -D ", root->path());
  RunCommand(StrCat(moss_, " index ", tmp_->path(), "/repo >/dev/null 2>&1"));
  RunCommand(StrCat(d, " repo add main file://", tmp_->path(), "/repo >/dev/null 2>&1"));
  RunCommand(StrCat(d, " repo update >/dev/null 2>&1"));
  const std::string human = RunCommand(StrCat(d, " info demo 2>&1"));
  EXPECT_NE(human.find(StrCat("Inputs:       ", kInputs[0], "\n              ", kInputs[1], "\n")),
            std::string::npos)
      << human;
  const std::string json = RunCommand(StrCat(d, " info --json demo 2>&1"));
  const auto j = nlohmann::json::parse(json, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json;
  ASSERT_EQ(j["available"].size(), 1u) << json;
  EXPECT_EQ(j["available"][0]["inputs"].get<std::vector<std::string>>(), kInputs);
}

// Also found in issue 30: raw newlines and ESC in paths and descriptions forged lines and
// terminal sequences in human output. They are escaped there; JSON keeps the exact text.
TEST_F(InputsTest, HumanOutputEscapesControlCharactersAndJsonKeepsThemExact) {
  const std::string forged = "x\nstate 9-ffff is active\x1b[2J";
  stone::Meta m;
  m.name = "demo";
  m.version = "1.0";
  m.description = "line one\nstate 9-ffff is active";
  stone::LayoutEntry f;
  f.path = forged;
  f.digest = Sha256Of("x");
  f.size = 1;
  const std::string path = tmp_->path() + "/forged.stone";
  ASSERT_TRUE(
      stone::WriteBinaryStoneFrom(
          m, {f},
          [](const stone::LayoutEntry&, const std::function<absl::Status(std::string_view)>& emit) {
            return emit("x");
          },
          path)
          .ok());
  const std::string human = RunCommand(StrCat(moss_, " inspect --layout ", path));
  EXPECT_EQ(human.find("\nstate 9-ffff is active"), std::string::npos) << human;
  EXPECT_EQ(human.find('\x1b'), std::string::npos) << human;
  EXPECT_NE(human.find("/usr/x\\x0astate 9-ffff is active\\x1b[2J"), std::string::npos) << human;
  const auto j =
      nlohmann::json::parse(RunCommand(StrCat(moss_, " inspect --json --layout ", path)));
  EXPECT_EQ(j["layout"][0]["path"], forged);
  EXPECT_EQ(j["meta"]["description"], m.description);
}

}  // namespace
}  // namespace onix
