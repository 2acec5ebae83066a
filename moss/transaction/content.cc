#include "moss/transaction/content.h"

#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/tree.h"

namespace onix::moss::transaction {
namespace {

// Streams one stone and puts every still-needed object it carries.
absl::Status FillFrom(store::Store& store, const stone::StoneReader& reader,
                      const NeededObjects& needed, std::mutex& mu, std::set<Digest>& done) {
  return reader.ForEachContent([&](const Digest& d, std::string_view bytes) -> absl::Status {
    auto it = needed.find(d);
    if (it == needed.end()) return absl::OkStatus();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (done.count(d)) return absl::OkStatus();
    }
    for (const auto& key : it->second) ONIX_RETURN_IF_ERROR(store.Put(key, bytes));
    std::lock_guard<std::mutex> lock(mu);
    done.insert(d);
    return absl::OkStatus();
  });
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
    std::vector<std::thread> workers;
    for (size_t i = 0; i < useful.size(); ++i) {
      workers.emplace_back([&, i] {
        results[i] = Annotate(FillFrom(root.store(), *useful[i], needed, mu, done),
                              StrCat("unpacking ", useful[i]->path()));
      });
    }
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
