#include "moss/base/status.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace onix {
namespace {

absl::StatusOr<int> Half(int v) {
  if (v % 2 != 0) return absl::InvalidArgumentError("odd");
  return v / 2;
}

absl::StatusOr<int> Quarter(int v) {
  ONIX_ASSIGN_OR_RETURN(int h, Half(v));
  ONIX_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int v) {
  ONIX_RETURN_IF_ERROR_CTX(Half(v), "checking value");
  return absl::OkStatus();
}

TEST(ErrnoError, MapsErrnoToCanonicalCodesAndNamesTheCall) {
  EXPECT_TRUE(absl::IsNotFound(ErrnoError(ENOENT, "open(x)")));
  EXPECT_TRUE(absl::IsAlreadyExists(ErrnoError(EEXIST, "mkdir(x)")));
  EXPECT_TRUE(absl::IsPermissionDenied(ErrnoError(EACCES, "open(x)")));
  EXPECT_TRUE(absl::IsResourceExhausted(ErrnoError(ENOSPC, "write(x)")));
  absl::Status s = ErrnoError(ENOENT, "open(/a/b)");
  EXPECT_EQ(s.message(), "open(/a/b): No such file or directory");
}

TEST(Annotate, PrefixesContextAndKeepsCode) {
  absl::Status s = Annotate(absl::NotFoundError("open(x): gone"), "installing foo");
  EXPECT_TRUE(absl::IsNotFound(s));
  EXPECT_EQ(s.message(), "installing foo: open(x): gone");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "nothing").ok());
}

TEST(StatusMacros, AssignOrReturnPropagatesFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_EQ(CheckEven(3).message(), "checking value: odd");
  EXPECT_TRUE(CheckEven(4).ok());
}

TEST(ReportStatus, EscapesControlCharactersAndKeepsTextAfterANul) {
  ::testing::internal::CaptureStderr();
  static constexpr char kMsg[] = "bad name 'a\0b\x1b[2J': why\nline two";
  const int code =
      ReportStatus("moss", absl::InvalidArgumentError(std::string(kMsg, sizeof(kMsg) - 1)));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2);
  EXPECT_EQ(err, "moss: error: bad name 'a\\x00b\\x1b[2J': why\nline two\n");
}

}  // namespace
}  // namespace onix
