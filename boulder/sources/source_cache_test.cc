#include "boulder/sources/source_cache.h"

#include <sys/stat.h>

#include <string>

#include "boulder/util/util.h"
#include "gtest/gtest.h"
#include "moss/base/sha256.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"

namespace onix::boulder {
namespace {

class SourceCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("sources-test-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::make_unique<TempDir>(std::move(*t));
    ASSERT_TRUE(MakeDirs(P("mirror")).ok());
    ASSERT_TRUE(WriteFile(P("src.tar"), "pretend archive bytes").ok());
    digest_ = Sha256Of("pretend archive bytes").Hex();
  }
  std::string P(const std::string& n) const { return StrCat(tmp_->path(), "/", n); }
  std::unique_ptr<TempDir> tmp_;
  std::string digest_;
};

TEST_F(SourceCacheTest, FileUrlIsVerifiedAndStoredUnderItsDigest) {
  auto cache = SourceCache::Open(P("cache"), "");
  ASSERT_TRUE(cache.ok());
  auto path = cache->FetchArchive(StrCat("file://", P("src.tar")), digest_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, P("cache/sha256/") + digest_);
  EXPECT_EQ(*ReadFile(*path), "pretend archive bytes");
  // A second fetch is served from the cache even when the origin is gone.
  ASSERT_EQ(::unlink(P("src.tar").c_str()), 0);
  EXPECT_TRUE(cache->FetchArchive(StrCat("file://", P("src.tar")), digest_).ok());
}

TEST_F(SourceCacheTest, MismatchNamesTheUrlAndBothHashesAndCachesNothing) {
  auto cache = SourceCache::Open(P("cache"), "");
  ASSERT_TRUE(cache.ok());
  const std::string wrong(64, 'b');
  auto path = cache->FetchArchive(StrCat("file://", P("src.tar")), wrong);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(path.status().message(),
            StrCat("fetching file://", P("src.tar"), ": sha256 mismatch: recipe says ", wrong,
                   ", got ", digest_));
  auto listing = RunCommandOk({"ls", "-A", P("cache/sha256")});
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(*listing, "");
}

TEST_F(SourceCacheTest, MirrorServesAnHttpUrlByItsFileName) {
  ASSERT_TRUE(WriteFile(P("mirror/foo-1.0.tar.gz"), "pretend archive bytes").ok());
  auto cache = SourceCache::Open(P("cache"), P("mirror"));
  ASSERT_TRUE(cache.ok());
  auto path = cache->FetchArchive("https://example.org/dl/foo-1.0.tar.gz", digest_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*ReadFile(*path), "pretend archive bytes");
}

TEST_F(SourceCacheTest, HttpUrlWithoutAMirrorCopyIsNotFound) {
  auto cache = SourceCache::Open(P("cache"), P("mirror"));
  ASSERT_TRUE(cache.ok());
  auto path = cache->FetchArchive("https://example.org/dl/bar-1.0.tar.gz", digest_);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(path.status().message().find("https://example.org/dl/bar-1.0.tar.gz"),
            std::string::npos);
}

TEST_F(SourceCacheTest, UnpackArchiveStripsLeadingComponents) {
  ASSERT_TRUE(MakeDirs(P("t/top/sub")).ok());
  ASSERT_TRUE(WriteFile(P("t/top/sub/f.txt"), "x").ok());
  ASSERT_TRUE(RunCommandOk({"tar", "-czf", P("a.tar.gz"), "-C", P("t"), "top"}).ok());
  ASSERT_TRUE(UnpackArchive(P("a.tar.gz"), P("out"), 1).ok());
  EXPECT_EQ(*ReadFile(P("out/sub/f.txt")), "x");
}

// A real git repository made by the test, fetched with libgit2 at a pinned commit.
TEST_F(SourceCacheTest, GitUpstreamIsFetchedAtTheCommitAndHashedStably) {
  const std::string repo = P("upstream.git");
  ASSERT_TRUE(MakeDirs(repo).ok());
  auto git = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"git",
                                     "-C",
                                     repo,
                                     "-c",
                                     "user.name=t",
                                     "-c",
                                     "user.email=t@example.org",
                                     "-c",
                                     "commit.gpgsign=false"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommandOk(argv);
  };
  ASSERT_TRUE(git({"init", "-q"}).ok());
  ASSERT_TRUE(WriteFile(repo + "/README", "first\n").ok());
  ASSERT_TRUE(git({"add", "README"}).ok());
  ASSERT_TRUE(git({"commit", "-q", "-m", "one"}).ok());
  auto first = git({"rev-parse", "HEAD"});
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string commit1 = first->substr(0, 40);
  ASSERT_TRUE(WriteFile(repo + "/README", "second\n").ok());
  ASSERT_TRUE(git({"commit", "-q", "-am", "two"}).ok());

  auto cache = SourceCache::Open(P("cache"), "");
  ASSERT_TRUE(cache.ok());
  auto bare = cache->FetchGit(repo, commit1);
  ASSERT_TRUE(bare.ok()) << bare.status();
  auto d1 = CheckoutGit(*bare, commit1, P("co1"));
  ASSERT_TRUE(d1.ok()) << d1.status();
  EXPECT_EQ(*ReadFile(P("co1/README")), "first\n");  // the pinned commit, not HEAD
  auto d2 = CheckoutGit(*bare, commit1, P("co2"));
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(*d1, *d2);

  auto missing = cache->FetchGit(repo, std::string(40, 'e'));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(std::string(40, 'e')), std::string::npos);
}

}  // namespace
}  // namespace onix::boulder
