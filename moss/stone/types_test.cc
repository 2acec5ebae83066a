#include "moss/stone/types.h"

#include "gtest/gtest.h"

namespace onix::stone {
namespace {

TEST(Dependency, ParsesTypedProvidersWithConstraints) {
  auto d = Dependency::Parse("soname(libz.so.1(x86_64))");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->kind, DepKind::kSoname);
  EXPECT_EQ(d->name, "libz.so.1(x86_64)");
  EXPECT_EQ(d->op, VersionOp::kAny);
  auto c = Dependency::Parse("name(zlib) >= 1.3");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "zlib");
  EXPECT_EQ(c->op, VersionOp::kGreaterEqual);
  EXPECT_EQ(c->version, "1.3");
  EXPECT_EQ(c->ToString(), "name(zlib) >= 1.3");
  auto bare = Dependency::Parse("busybox");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->ToString(), "name(busybox)");
}

TEST(Dependency, RoundTripsEveryKind) {
  for (std::string s : {"name(a)", "soname(libc.so(x86_64))", "pkgconfig(zlib) < 2",
                        "binary(sh) = 1.36.1-1-1", "sysbinary(init)"}) {
    auto d = Dependency::Parse(s);
    ASSERT_TRUE(d.ok()) << s << ": " << d.status();
    EXPECT_EQ(d->ToString(), s);
  }
}

TEST(Dependency, RejectsMalformedTextWithReason) {
  for (std::string s :
       {"", "weird(x)", "name(", "name()", "name(a b)", "name(a) >=", "soname(libc.so(x86_64)"}) {
    auto d = Dependency::Parse(s);
    EXPECT_TRUE(absl::IsInvalidArgument(d.status())) << "'" << s << "' parsed";
  }
  EXPECT_NE(Dependency::Parse("weird(x)").status().message().find("unknown kind 'weird'"),
            std::string::npos);
}

}  // namespace
}  // namespace onix::stone
