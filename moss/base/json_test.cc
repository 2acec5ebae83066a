#include "moss/base/json.h"

#include "gtest/gtest.h"
#include "moss/base/str_cat.h"

namespace onix {
namespace {

TEST(DumpJson, InvalidUtf8IsReplacedInsteadOfThrowing) {
  nlohmann::json j = {{"name", "bad \xff\xc0 name"}};
  std::string out;
  EXPECT_NO_THROW(out = DumpJson(j));
  EXPECT_EQ(out, "{\"name\":\"bad \xef\xbf\xbd\xef\xbf\xbd name\"}");
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);  // what every call did before
  EXPECT_EQ(DumpJson({{"a", 1}}, 2), "{\n  \"a\": 1\n}");
}

TEST(EscapeControl, ControlCharactersAndNulBecomeHexEscapes) {
  EXPECT_EQ(EscapeControl(std::string("a\nb\x1b[2J\0c\x7f", 10)), "a\\x0ab\\x1b[2J\\x00c\\x7f");
  EXPECT_EQ(EscapeControl("caf\xc3\xa9 ok"), "caf\xc3\xa9 ok");
}

}  // namespace
}  // namespace onix
