#include "moss/repo/repository.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fstream>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"
#include "moss/repo/config.h"
#include "moss/repo/fetch.h"
#include "moss/repo/files.h"
#include "moss/repo/index.h"
#include "moss/repo/signature.h"
#include "moss/repo/test_server.h"
#include "moss/repo/test_stones.h"
#include "moss/stone/stone.h"

namespace onix::moss::repo {
namespace {

using testing::TestHttpServer;

void MakeStone(const std::string& dir, const std::string& name, const std::string& version,
               std::vector<std::string> depends = {}) {
  auto path = testing::MakeRepoStone(dir, name, version, depends);
  ASSERT_TRUE(path.ok()) << path.status();
}

struct Fixture {
  TempDir repo_dir;
  TempDir root;
};

Fixture MakeRepo() {
  auto repo = TempDir::Make("repo");
  auto root = TempDir::Make("root");
  EXPECT_TRUE(repo.ok() && root.ok());
  MakeStone(repo->path(), "app", "1.0", {"name(lib)"});
  MakeStone(repo->path(), "lib", "2.0");
  return {std::move(*repo), std::move(*root)};
}

void Corrupt(const std::string& path) {
  auto bytes = ReadPath(path);
  ASSERT_TRUE(bytes.ok());
  (*bytes)[bytes->size() / 2] ^= 0x5a;
  auto fd = OpenPath(path, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(::write(fd->get(), bytes->data(), bytes->size()), static_cast<ssize_t>(bytes->size()));
}

solver::Plan InstallPlan(const std::string& root, const std::string& name) {
  auto universe = LoadUniverse(root, {});
  EXPECT_TRUE(universe.ok()) << universe.status();
  auto plan = solver::Resolve(*universe, {.install = {name}, .remove = {}, .debug_dir = ""});
  EXPECT_TRUE(plan.ok());
  return *plan;
}

TEST(Index, ReindexingIsByteIdenticalAndListsEveryStone) {
  Fixture fx = MakeRepo();
  auto first = BuildIndex(fx.repo_dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->packages, 2u);
  auto bytes1 = ReadPath(fx.repo_dir.path() + "/stone.index");
  auto sums1 = ReadPath(fx.repo_dir.path() + "/SHA256SUMS");
  ASSERT_TRUE(bytes1.ok() && sums1.ok());
  auto second = BuildIndex(fx.repo_dir.path());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*ReadPath(fx.repo_dir.path() + "/stone.index"), *bytes1);
  EXPECT_EQ(*ReadPath(fx.repo_dir.path() + "/SHA256SUMS"), *sums1);
  EXPECT_EQ(first->index_digest, second->index_digest);
  auto app_digest = Sha256Path(fx.repo_dir.path() + "/app-1.0.stone");
  ASSERT_TRUE(app_digest.ok());
  EXPECT_NE(sums1->find(app_digest->Hex() + "  app-1.0.stone\n"), std::string::npos) << *sums1;
  EXPECT_NE(sums1->find("  stone.index\n"), std::string::npos);
  auto packages = ReadIndex(fx.repo_dir.path() + "/stone.index");
  ASSERT_TRUE(packages.ok());
  ASSERT_EQ(packages->size(), 2u);
  EXPECT_EQ((*packages)[0].meta.name, "app");
  EXPECT_EQ((*packages)[0].stone_digest, *app_digest);
}

TEST(Index, BrokenStoneFailsTheIndexNamingIt) {
  Fixture fx = MakeRepo();
  auto fd = OpenPath(fx.repo_dir.path() + "/junk.stone", O_WRONLY | O_CREAT, 0644);
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(::write(fd->get(), "nope", 4), 4);
  auto st = BuildIndex(fx.repo_dir.path());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("junk.stone"), std::string::npos) << st.status();
  struct stat sb;
  EXPECT_NE(::stat((fx.repo_dir.path() + "/stone.index").c_str(), &sb), 0);
}

TEST(Repository, HttpRepositoryInstallsVerifiedStones) {
  Fixture fx = MakeRepo();
  ASSERT_TRUE(BuildIndex(fx.repo_dir.path()).ok());
  auto server = TestHttpServer::Start(fx.repo_dir.path());
  ASSERT_TRUE(server.ok());
  RepoConfig c{"main", (*server)->url(), 0, true, "", ""};
  ASSERT_TRUE(AddRepo(fx.root.path(), c).ok());
  ASSERT_TRUE(UpdateRepo(fx.root.path(), c).ok());
  solver::Plan plan = InstallPlan(fx.root.path(), "app");
  ASSERT_EQ(plan.installs.size(), 2u);
  EXPECT_GT(plan.download_size, 0u);
  auto paths = FetchStones(fx.root.path(), plan.to_fetch, 2);
  ASSERT_TRUE(paths.ok()) << paths.status();
  ASSERT_EQ(paths->size(), 2u);
  for (size_t i = 0; i < paths->size(); ++i) {
    auto d = Sha256Path((*paths)[i]);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, plan.to_fetch[i].stone_digest);
    auto reader = stone::StoneReader::Open((*paths)[i]);
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ(reader->meta().name, plan.to_fetch[i].name);
  }
  auto usage = CacheSize(fx.root.path());
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->stones, 2u);
  auto freed = CacheClean(fx.root.path());
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(*freed, usage->stone_bytes);
  EXPECT_EQ(CacheSize(fx.root.path())->stones, 0u);
}

TEST(Repository, TamperedStoneIsRefusedAndNotCached) {
  Fixture fx = MakeRepo();
  ASSERT_TRUE(BuildIndex(fx.repo_dir.path()).ok());
  auto server = TestHttpServer::Start(fx.repo_dir.path());
  ASSERT_TRUE(server.ok());
  RepoConfig c{"main", (*server)->url(), 0, true, "", ""};
  ASSERT_TRUE(AddRepo(fx.root.path(), c).ok());
  ASSERT_TRUE(UpdateRepo(fx.root.path(), c).ok());
  Corrupt(fx.repo_dir.path() + "/lib-2.0.stone");
  solver::Plan plan = InstallPlan(fx.root.path(), "lib");
  ASSERT_EQ(plan.to_fetch.size(), 1u);
  auto paths = FetchStones(fx.root.path(), plan.to_fetch);
  ASSERT_EQ(paths.status().code(), absl::StatusCode::kDataLoss) << paths.status();
  EXPECT_NE(paths.status().message().find("sha256 mismatch"), std::string::npos);
  auto usage = CacheSize(fx.root.path());
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->stones, 0u);
}

TEST(Repository, UnsignedIndexIsRefusedWhenAKeyIsConfigured) {
  Fixture fx = MakeRepo();
  ASSERT_TRUE(BuildIndex(fx.repo_dir.path()).ok());
  auto server = TestHttpServer::Start(fx.repo_dir.path());
  ASSERT_TRUE(server.ok());
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  RepoConfig c{"main", (*server)->url(), 0, true, key->public_key.Hex(), ""};
  ASSERT_TRUE(AddRepo(fx.root.path(), c).ok());
  absl::Status st = UpdateRepo(fx.root.path(), c);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
  EXPECT_NE(st.message().find("not signed"), std::string::npos) << st;
  EXPECT_EQ(LoadUniverse(fx.root.path(), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(Repository, SignedIndexVerifiesAndWrongKeyIsRefused) {
  Fixture fx = MakeRepo();
  auto key = GenerateKey();
  auto other = GenerateKey();
  ASSERT_TRUE(key.ok() && other.ok());
  ASSERT_TRUE(BuildIndex(fx.repo_dir.path(), {.sign_key = &*key}).ok());
  auto server = TestHttpServer::Start(fx.repo_dir.path());
  ASSERT_TRUE(server.ok());
  RepoConfig wrong{"wrong", (*server)->url(), 0, true, other->public_key.Hex(), ""};
  EXPECT_EQ(UpdateRepo(fx.root.path(), wrong).code(), absl::StatusCode::kPermissionDenied);
  RepoConfig right{"right", (*server)->url(), 0, true, key->public_key.Hex(), ""};
  ASSERT_TRUE(AddRepo(fx.root.path(), right).ok());
  absl::Status st = UpdateRepo(fx.root.path(), right);
  EXPECT_TRUE(st.ok()) << st;
  // A tampered index no longer matches its signature.
  Corrupt(fx.repo_dir.path() + "/stone.index");
  EXPECT_EQ(UpdateRepo(fx.root.path(), right).code(), absl::StatusCode::kPermissionDenied);
  // The previously verified index stays usable.
  EXPECT_EQ(InstallPlan(fx.root.path(), "app").installs.size(), 2u);
}

TEST(Repository, FileRepositoryWorksWithoutServer) {
  Fixture fx = MakeRepo();
  ASSERT_TRUE(BuildIndex(fx.repo_dir.path()).ok());
  RepoConfig c{"local", "file://" + fx.repo_dir.path(), 0, true, "", ""};
  ASSERT_TRUE(AddRepo(fx.root.path(), c).ok());
  ASSERT_TRUE(UpdateRepo(fx.root.path(), c).ok());
  solver::Plan plan = InstallPlan(fx.root.path(), "app");
  auto paths = FetchStones(fx.root.path(), plan.to_fetch);
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(paths->size(), 2u);
}

TEST(Repository, SolvCacheIsRebuiltWhenCorrupt) {
  Fixture fx = MakeRepo();
  ASSERT_TRUE(BuildIndex(fx.repo_dir.path()).ok());
  RepoConfig c{"local", "file://" + fx.repo_dir.path(), 0, true, "", ""};
  ASSERT_TRUE(AddRepo(fx.root.path(), c).ok());
  ASSERT_TRUE(UpdateRepo(fx.root.path(), c).ok());
  const std::string solv = RepoCacheDir(fx.root.path(), "local") + "/index.solv";
  Corrupt(solv);
  EXPECT_EQ(InstallPlan(fx.root.path(), "app").installs.size(), 2u);
}

TEST(Fetch, FollowsRedirects) {
  Fixture fx = MakeRepo();
  auto server = TestHttpServer::Start(fx.repo_dir.path());
  ASSERT_TRUE(server.ok());
  const std::string dest = fx.root.path() + "/app.stone";
  auto want = Sha256Path(fx.repo_dir.path() + "/app-1.0.stone");
  ASSERT_TRUE(want.ok());
  absl::Status st =
      Fetch({(*server)->url() + "/redirect/app-1.0.stone", dest, *want, 0, "app", ""});
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(*Sha256Path(dest), *want);
}

TEST(Fetch, ResumesAPartialDownloadWithRange) {
  Fixture fx = MakeRepo();
  auto server = TestHttpServer::Start(fx.repo_dir.path());
  ASSERT_TRUE(server.ok());
  auto bytes = ReadPath(fx.repo_dir.path() + "/app-1.0.stone");
  ASSERT_TRUE(bytes.ok());
  const std::string dest = fx.root.path() + "/app.stone";
  {
    auto fd = OpenPath(dest + ".part", O_WRONLY | O_CREAT, 0644);
    ASSERT_TRUE(fd.ok());
    ASSERT_EQ(::write(fd->get(), bytes->data(), bytes->size() / 2),
              static_cast<ssize_t>(bytes->size() / 2));
  }
  absl::Status st = Fetch(
      {(*server)->url() + "/app-1.0.stone", dest, Sha256Of(*bytes), bytes->size(), "app", ""});
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ((*server)->range_requests(), 1);
  EXPECT_EQ(*ReadPath(dest), *bytes);
}

TEST(Fetch, MissingFileIsNotFoundAndLeavesNothing) {
  Fixture fx = MakeRepo();
  auto server = TestHttpServer::Start(fx.repo_dir.path());
  ASSERT_TRUE(server.ok());
  const std::string dest = fx.root.path() + "/x";
  EXPECT_EQ(Fetch({(*server)->url() + "/nope.stone", dest, std::nullopt, 0, "", ""}).code(),
            absl::StatusCode::kNotFound);
  struct stat sb;
  EXPECT_NE(::stat((dest + ".part").c_str(), &sb), 0);
  EXPECT_NE(::stat(dest.c_str(), &sb), 0);
}

// Issue 30 bug 7: file:// stops at the expected size like HTTP, even when the source never
// ends (a symlink to /dev/zero) or is merely longer, and leaves no .part behind.
TEST(Fetch, FileUrlsAreCappedAtTheExpectedSizeLikeHttp) {
  Fixture fx = MakeRepo();
  const std::string zero = fx.repo_dir.path() + "/zero.stone";
  ASSERT_EQ(::symlink("/dev/zero", zero.c_str()), 0);
  const std::string longer = fx.repo_dir.path() + "/longer.stone";
  { std::ofstream(longer) << std::string(600, 'x'); }
  for (const std::string& src : {zero, longer}) {
    const std::string dest = fx.root.path() + "/x";
    absl::Status st = Fetch({"file://" + src, dest, std::nullopt, 546, "", ""});
    EXPECT_TRUE(absl::IsDataLoss(st)) << st;
    EXPECT_NE(st.message().find("more than the expected 546 bytes"), std::string::npos) << st;
    struct stat sb;
    EXPECT_NE(::stat((dest + ".part").c_str(), &sb), 0) << src;
    EXPECT_NE(::stat(dest.c_str(), &sb), 0) << src;
  }
}

TEST(Fetch, StalledServerTimesOut) {
  // A listening socket that never answers: the kernel completes the handshake, nobody reads.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  auto root = TempDir::Make("root");
  ASSERT_TRUE(root.ok());
  FetchOptions options;
  options.timeout = std::chrono::milliseconds(200);
  absl::Status st = Fetch({"http://127.0.0.1:" + std::to_string(port) + "/x", root->path() + "/x",
                           std::nullopt, 0, "", ""},
                          options);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_NE(st.message().find("timed out"), std::string::npos) << st;
}

}  // namespace
}  // namespace onix::moss::repo
