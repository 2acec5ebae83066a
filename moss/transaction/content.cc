#include "moss/transaction/content.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/tree.h"

namespace onix::moss::transaction {
namespace {

// Streams one stone into the store: each still-needed digest goes through an ObjectWriter
// chunk by chunk, so memory stays at one read buffer and one zstd window per worker whatever
// the file sizes. A digest is claimed in `done` when its bytes begin, so two stones carrying
// it never write it twice; a failed stream fails the whole fetch, so a claim never hides a
// missing object.
absl::Status FillFrom(store::Store& store, const stone::StoneReader& reader,
                      const NeededObjects& needed, std::mutex& mu, std::set<Digest>& done) {
  std::optional<store::ObjectWriter> writer;
  std::vector<store::ObjectKey> keys;
  return reader.StreamContent(
      [&](const stone::ContentRange& c) -> absl::Status {
        writer.reset();
        auto it = needed.find(c.digest);
        if (it == needed.end()) return absl::OkStatus();
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!done.insert(c.digest).second) return absl::OkStatus();
        }
        keys.assign(it->second.begin(), it->second.end());
        ONIX_ASSIGN_OR_RETURN(store::ObjectWriter w, store.BeginObject(c.digest));
        writer.emplace(std::move(w));
        return absl::OkStatus();
      },
      [&](std::string_view bytes) -> absl::Status {
        return writer ? writer->Append(bytes) : absl::OkStatus();
      },
      [&](const stone::ContentRange&) -> absl::Status {
        if (!writer) return absl::OkStatus();
        absl::Status s = writer->Publish(keys);
        writer.reset();
        return s;
      });
}

// Stones unpacked at once: enough to keep both CPU and disk busy (a worker often waits on
// file creation), few enough that memory (a read buffer and a zstd window each, ~4 MiB)
// stays small however many stones a transaction has.
int FetchWorkers(size_t stones) {
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return static_cast<int>(
      std::min<size_t>(stones, static_cast<size_t>(std::clamp(2 * cpus, 4, 8))));
}

}  // namespace

absl::StatusOr<NeededObjects> MissingObjects(const store::Store& store,
                                             const std::vector<stone::LayoutEntry>& layout) {
  NeededObjects out;
  for (const auto& e : layout) {
    if (e.kind != stone::FileKind::kRegular) continue;
    const store::ObjectKey key = state::KeyOf(e);
    ONIX_ASSIGN_OR_RETURN(bool has, store.Has(key));
    if (!has) out[e.digest].insert(key);
  }
  return out;
}

absl::Status FetchObjects(MachineRoot& root, const NeededObjects& needed,
                          const std::vector<const stone::StoneReader*>& sources) {
  if (needed.empty()) return absl::OkStatus();
  // Disk before digest: a small stone may declare gigabytes of content (a digest is only
  // proved wrong once its bytes are written), so the declared size of every object to write
  // is checked against the store's free space first. Each key is its own object file.
  {
    uint64_t declared = 0;
    std::set<Digest> counted;
    for (const auto* r : sources) {
      for (const auto& range : r->content_index()) {
        auto it = needed.find(range.digest);
        if (it == needed.end() || !counted.insert(range.digest).second) continue;
        declared += range.length * it->second.size();
      }
    }
    struct statvfs st;
    if (::fstatvfs(root.moss_fd(), &st) != 0) {
      const int err = errno;
      return ErrnoError(err, "checking free space in .moss");
    }
    const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    if (declared > free_bytes) {
      return absl::ResourceExhaustedError(StrCat("unpacking needs ", declared, " bytes in ",
                                                 root.path(), "/.moss/store but only ", free_bytes,
                                                 " are free; nothing was unpacked"));
    }
  }
  std::mutex mu;
  std::set<Digest> done;
  std::vector<const stone::StoneReader*> useful;
  for (const auto* r : sources) {
    for (const auto& range : r->content_index()) {
      if (needed.count(range.digest)) {
        useful.push_back(r);
        break;
      }
    }
  }
  std::vector<absl::Status> results(useful.size());
  {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    auto work = [&] {
      for (size_t i; !failed && (i = next.fetch_add(1)) < useful.size();) {
        results[i] = Annotate(FillFrom(root.store(), *useful[i], needed, mu, done),
                              StrCat("unpacking ", useful[i]->path()));
        if (!results[i].ok()) failed = true;
      }
    };
    std::vector<std::thread> workers;
    for (int t = 0; t < FetchWorkers(useful.size()); ++t) workers.emplace_back(work);
    for (auto& w : workers) w.join();
  }
  for (const auto& s : results) ONIX_RETURN_IF_ERROR(s);

  for (const auto& [digest, keys] : needed) {
    if (done.count(digest)) continue;
    ONIX_ASSIGN_OR_RETURN(std::vector<Digest> stones, root.db().StonesWithContent(digest));
    for (const auto& stone_digest : stones) {
      absl::StatusOr<stone::StoneReader> reader =
          stone::StoneReader::Open(CachedStonePath(root, stone_digest));
      if (!reader.ok()) continue;  // not cached (or damaged): try the next stone
      NeededObjects one{{digest, keys}};
      ONIX_RETURN_IF_ERROR(FillFrom(root.store(), *reader, one, mu, done));
      if (done.count(digest)) break;
    }
    if (!done.count(digest)) {
      return NotFound(
          StrCat("content ", digest.Hex(), " is in no given stone and no cached stone"));
    }
  }
  return absl::OkStatus();
}

std::string CachedStonePath(const MachineRoot& root, const Digest& stone_digest) {
  return StrCat(root.path(), "/.moss/cache/stones/", stone_digest.Hex(), ".stone");
}

absl::Status CacheStone(const MachineRoot& root, const std::string& path, const Digest& digest) {
  // Our own copy loop rather than std::filesystem::copy_file, whose error for a full disk is
  // EIO: a full disk must read as ResourceExhausted so the rollback frees the space.
  const std::string what = StrCat("caching stone ", path);
  const std::string name = StrCat(digest.Hex(), ".stone");
  absl::StatusOr<UniqueFd> cache = fs::OpenDirAt(root.moss_fd(), "cache/stones");
  if (!cache.ok()) return Annotate(cache.status(), what);
  ONIX_ASSIGN_OR_RETURN(bool have, fs::ExistsAt(cache->get(), name));
  if (have) return absl::OkStatus();
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    const int err = errno;
    return ErrnoError(err, what);
  }
  const std::string tmp = StrCat(name, ".tmp-", ::getpid());
  absl::StatusOr<UniqueFd> out =
      fs::OpenAt(cache->get(), tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (!out.ok()) return Annotate(out.status(), what);
  absl::Status copied;
  std::string buf(1 << 20, '\0');
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      copied = ErrnoError(err, StrCat("read(", path, ")"));
      break;
    }
    if (n == 0) break;
    copied = fs::WriteAll(out->get(), std::string_view(buf.data(), static_cast<size_t>(n)), tmp);
    if (!copied.ok()) break;
  }
  out->reset();
  if (copied.ok()) copied = fs::RenameAt(cache->get(), tmp, cache->get(), name);
  if (!copied.ok()) {
    (void)fs::UnlinkAt(cache->get(), tmp);
    return Annotate(copied, what);
  }
  return absl::OkStatus();
}

}  // namespace onix::moss::transaction
