#include "moss/transaction/content.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

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

// Stones unpacked at once: enough to keep both CPU and disk busy, few enough that memory
// (a read buffer and a zstd window each) stays small however many stones a transaction has.
int FetchWorkers(size_t stones) {
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return static_cast<int>(std::min<size_t>(stones, static_cast<size_t>(std::clamp(cpus, 2, 8))));
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
  namespace sfs = std::filesystem;
  const std::string dest = CachedStonePath(root, digest);
  std::error_code ec;
  if (sfs::exists(dest, ec)) return absl::OkStatus();
  const std::string tmp = StrCat(dest, ".tmp-", ::getpid());
  sfs::remove(tmp, ec);
  sfs::copy_file(path, tmp, ec);
  if (!ec) sfs::rename(tmp, dest, ec);
  if (ec) {
    const std::string why = ec.message();
    sfs::remove(tmp, ec);
    return Internal(StrCat("caching stone ", path, ": ", why));
  }
  return absl::OkStatus();
}

}  // namespace onix::moss::transaction
