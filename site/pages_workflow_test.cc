// Reads .github/workflows/pages.yml (it cannot run here) and checks that it publishes what
// `bazel run //site:build` produces: same target, the dist/ it writes, gh-pages, CNAME.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// argv[1]: the workflow file; argv[2]: the runfiles path of //site:build's binary.
std::string g_workflow_path;
std::string g_build_binary;

struct Workflow {
  YAML::Node doc;
  std::vector<YAML::Node> steps;
};

Workflow Load() {
  Workflow w;
  try {
    w.doc = YAML::Load(ReadFile(g_workflow_path));
    for (const auto& job : w.doc["jobs"]) {
      for (const auto& step : job.second["steps"]) w.steps.push_back(step);
    }
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << g_workflow_path << ": " << e.what();
  }
  return w;
}

// "//site:build" -> "site/build": where Bazel puts a cc_binary's executable.
std::string LabelToPath(const std::string& label) {
  std::string s = label.substr(2);
  s[s.find(':')] = '/';
  return s;
}

TEST(PagesWorkflow, RunsTheSameBazelTargetAsSiteBuild) {
  Workflow w = Load();
  std::vector<std::string> targets;
  for (const auto& step : w.steps) {
    if (!step["run"]) continue;
    std::istringstream words(step["run"].as<std::string>());
    std::vector<std::string> argv{std::istream_iterator<std::string>(words), {}};
    for (size_t i = 0; i + 2 < argv.size(); ++i) {
      if (argv[i] == "bazel" && argv[i + 1] == "run") targets.push_back(argv[i + 2]);
    }
  }
  ASSERT_EQ(targets.size(), 1u) << "expected exactly one `bazel run` in the workflow";
  EXPECT_EQ(targets[0], "//site:build");
  // The label names the binary this test depends on as :build, so renaming or moving the
  // target without updating the workflow fails here.
  EXPECT_EQ(LabelToPath(targets[0]), g_build_binary);
}

TEST(PagesWorkflow, PublishesDistToGhPagesWithTheCname) {
  Workflow w = Load();
  int publishers = 0;
  for (const auto& step : w.steps) {
    if (!step["uses"] || step["uses"].as<std::string>().rfind("peaceiris/actions-gh-pages@", 0))
      continue;
    ++publishers;
    const YAML::Node with = step["with"];
    EXPECT_EQ(with["publish_branch"].as<std::string>(), "gh-pages");
    // //site:build writes <workspace>/dist by default.
    const std::string dir = with["publish_dir"].as<std::string>();
    EXPECT_TRUE(dir == "dist" || dir == "./dist") << dir;
    EXPECT_EQ(with["cname"].as<std::string>(), "onix-os.com");
  }
  EXPECT_EQ(publishers, 1);
}

TEST(PagesWorkflow, RunsOnPushToMainWithWritePermission) {
  Workflow w = Load();
  // YAML reads the bare key `on` as the boolean true in some parsers; yaml-cpp keeps "on".
  ASSERT_TRUE(w.doc["on"]) << "no `on:` trigger";
  bool main_branch = false;
  for (const auto& b : w.doc["on"]["push"]["branches"])
    main_branch |= b.as<std::string>() == "main";
  EXPECT_TRUE(main_branch);
  EXPECT_EQ(w.doc["permissions"]["contents"].as<std::string>(), "write");
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::cerr << "usage: pages_workflow_test PAGES_YML BUILD_BINARY\n";
    return 2;
  }
  g_workflow_path = argv[1];
  g_build_binary = argv[2];
  return RUN_ALL_TESTS();
}
