#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "moss/triggers/triggers.h"
#include "nlohmann/json.hpp"

namespace onix::nixplane {
namespace {

std::string Read(const std::string& name) {
  std::ifstream in("nix-integration/data/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ShippedData, SystemTriggerRunsSyncAfterEveryUsrChange) {
  auto trigger = moss::triggers::ParseTrigger(Read("onix-nix-integration.trigger"),
                                              "onix-nix-integration.trigger");
  ASSERT_TRUE(trigger.ok()) << trigger.status();
  EXPECT_EQ(trigger->run,
            (std::vector<std::string>{"/usr/bin/onix-nix-integration", "sync", "--root", "/"}));
  EXPECT_TRUE(moss::triggers::Fires(*trigger, {"lib/onix/mesa-bridge/lib/libEGL_mesa.so.0"}));
}

TEST(ShippedData, RegistriesAreVersion2Json) {
  for (const char* name : {"registry.json", "flake-registry.json"}) {
    auto j = nlohmann::json::parse(Read(name));
    EXPECT_EQ(j.at("version"), 2) << name;
    EXPECT_TRUE(j.at("flakes").is_array()) << name;
  }
}

TEST(ShippedData, NixConfIsOfflineWithALocalRegistry) {
  const std::string conf = Read("nix.conf");
  for (const char* line :
       {"\nbuild-users-group = nixbld\n", "\nexperimental-features = nix-command flakes\n",
        "\nsandbox = true\n", "\ntrusted-users = root\n", "\nallowed-users = *\n",
        "\nsubstituters =\n", "\nflake-registry = /etc/nix/flake-registry.json\n"}) {
    EXPECT_NE(conf.find(line), std::string::npos) << line;
  }
}

TEST(ShippedData, SysusersDeclaresTheFixedIds) {
  const std::string s = Read("sysusers.conf");
  EXPECT_NE(s.find("\ng nixbld 30000 - -\n"), std::string::npos);
  EXPECT_NE(s.find("\nu nixbld1 30001:30000 "), std::string::npos);
  EXPECT_NE(s.find("\nu nixbld32 30032:30000 "), std::string::npos);
  EXPECT_EQ(s.find("nixbld33"), std::string::npos);
}

}  // namespace
}  // namespace onix::nixplane
