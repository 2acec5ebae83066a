#include "moss/store/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::store {

ObjectKey ObjectKey::For(const Digest& digest, uint32_t mode, uint32_t uid, uint32_t gid) {
  return ObjectKey{digest, mode & 07777 & ~0222u, uid, gid};
}

std::string ObjectKey::Name() const {
  std::string hex = digest.Hex();
  if (mode == 0444 && uid == 0 && gid == 0) return hex;
  char suffix[64];
  std::snprintf(suffix, sizeof(suffix), ".%o.%u.%u", mode, uid, gid);
  return hex + suffix;
}

std::string ObjectKey::RelPath() const { return StrCat(digest.Hex().substr(0, 2), "/", Name()); }

absl::StatusOr<ObjectKey> ObjectKey::Parse(std::string_view name) {
  std::vector<std::string> parts = absl::StrSplit(AbslView(name), '.');
  ObjectKey key;
  auto digest = Digest::FromHex(parts[0]);
  if (!digest.ok()) return InvalidArgument(StrCat("not a store object name: ", name));
  key.digest = *digest;
  if (parts.size() == 1) return key;
  if (parts.size() != 4) return InvalidArgument(StrCat("not a store object name: ", name));
  char* end = nullptr;
  const unsigned long mode = std::strtoul(parts[1].c_str(), &end, 8);
  if (parts[1].empty() || *end != '\0' || mode > 07777 || !absl::SimpleAtoi(parts[2], &key.uid) ||
      !absl::SimpleAtoi(parts[3], &key.gid)) {
    return InvalidArgument(StrCat("not a store object name: ", name));
  }
  key.mode = static_cast<uint32_t>(mode);
  return key;
}

struct Store::ShardCache {
  std::mutex mu;
  std::array<int, 256> fds;
  ShardCache() { fds.fill(-1); }
  ~ShardCache() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
};

Store::Store(UniqueFd fd) : fd_(std::move(fd)), shards_(std::make_unique<ShardCache>()) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

absl::StatusOr<Store> Store::Open(int moss_dirfd, std::string_view name) {
  absl::Status made = fs::MkdirAt(moss_dirfd, name, 0755);
  if (!made.ok() && !absl::IsAlreadyExists(made)) {
    return Annotate(made, StrCat("opening store ", name));
  }
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenDirAt(moss_dirfd, name));
  return Store(std::move(fd));
}

absl::StatusOr<UniqueFd> Store::OpenShard(const Digest& digest, bool create) const {
  const std::string shard = digest.Hex().substr(0, 2);
  if (create) {
    absl::Status made = fs::MkdirAt(fd_.get(), shard, 0755);
    if (!made.ok() && !absl::IsAlreadyExists(made)) return made;
  }
  return fs::OpenDirAt(fd_.get(), shard);
}

absl::StatusOr<bool> Store::Has(const ObjectKey& key) const {
  return fs::ExistsAt(fd_.get(), key.RelPath());
}

namespace {

absl::StatusOr<UniqueFd> OpenTmpfile(int shard_fd) {
  int raw = ::openat(shard_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (raw < 0) {
    const int err = errno;
    return ErrnoError(err, "open(O_TMPFILE)");
  }
  return UniqueFd(raw);
}

// Gives the unnamed `tmp` the key's owner and mode and links it into the shard; a name that
// already exists is another writer's copy of the same bytes.
absl::Status LinkObject(int tmp, int shard_fd, const ObjectKey& key) {
  // Ownership only matters (and is only possible) when we run as root; an unprivileged
  // test root keeps our own uid.
  if (::geteuid() == 0 && ::fchown(tmp, key.uid, key.gid) != 0) {
    const int err = errno;
    return ErrnoError(err, "fchown");
  }
  if (::fchmod(tmp, key.mode) != 0) {
    const int err = errno;
    return ErrnoError(err, "fchmod");
  }
  const std::string proc = StrCat("/proc/self/fd/", tmp);
  const std::string name = key.Name();
  if (::linkat(AT_FDCWD, proc.c_str(), shard_fd, name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    const int err = errno;
    // Another writer (a parallel unpack of the same content) got there first: same bytes.
    if (err == EEXIST) return absl::OkStatus();
    return ErrnoError(err, StrCat("linkat(", name, ")"));
  }
  return absl::OkStatus();
}

absl::Status CopyBytes(int from, int to, uint64_t length) {
  uint64_t done = 0;
  while (done < length) {
    loff_t in_off = static_cast<loff_t>(done);
    ssize_t n = ::copy_file_range(from, &in_off, to, nullptr, length - done, 0);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EXDEV || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL) break;
      return ErrnoError(err, "copy_file_range");
    }
    if (n == 0) return Internal("copying an object: source shorter than expected");
    done += static_cast<uint64_t>(n);
  }
  std::string buf(done < length ? 1 << 16 : 0, '\0');  // only when the kernel could not copy
  while (done < length) {
    ssize_t n = ::pread(from, buf.data(), std::min<uint64_t>(buf.size(), length - done),
                        static_cast<off_t>(done));
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      if (err == EINTR) continue;
      return ErrnoError(err, "pread");
    }
    ONIX_RETURN_IF_ERROR(fs::WriteAll(to, std::string_view(buf.data(), n), "object copy"));
    done += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ObjectWriter> Store::BeginObject(const Digest& digest) const {
  const std::string what = StrCat("adding store object ", digest.Hex());
  UniqueFd shard;
  {
    std::lock_guard<std::mutex> lock(shards_->mu);
    int& cached = shards_->fds[digest.bytes[0]];
    if (cached < 0) {
      absl::StatusOr<UniqueFd> opened = OpenShard(digest, /*create=*/true);
      if (!opened.ok()) return Annotate(opened.status(), what);
      cached = opened->release();
    }
    shard = UniqueFd(::fcntl(cached, F_DUPFD_CLOEXEC, 0));
    if (!shard.valid()) {
      const int err = errno;
      return Annotate(ErrnoError(err, "dup(shard)"), what);
    }
  }
  absl::StatusOr<UniqueFd> tmp = OpenTmpfile(shard.get());
  if (!tmp.ok()) return Annotate(tmp.status(), what);
  return ObjectWriter(fd_.get(), digest, std::move(shard), std::move(*tmp));
}

absl::Status ObjectWriter::Append(std::string_view bytes) {
  hash_.Update(bytes);
  size_ += bytes.size();
  return fs::WriteAll(tmp_.get(), bytes, StrCat("store object ", digest_.Hex()));
}

absl::Status ObjectWriter::Publish(const std::vector<ObjectKey>& keys) {
  const std::string what = StrCat("adding store object ", digest_.Hex());
  if (hash_.Finish() != digest_) {
    return DataLoss(StrCat(what, ": content does not match its digest"));
  }
  bool used = false;  // the tmpfile is linked under one key; other variants are copies
  for (const ObjectKey& key : keys) {
    if (key.digest != digest_) return Internal(StrCat(what, ": key ", key.Name(), " is not ours"));
    ONIX_ASSIGN_OR_RETURN(bool has, fs::ExistsAt(store_fd_, key.RelPath()));
    if (has) continue;
    if (!used) {
      ONIX_RETURN_IF_ERROR_CTX(LinkObject(tmp_.get(), shard_.get(), key), what);
      used = true;
      continue;
    }
    ONIX_ASSIGN_OR_RETURN(UniqueFd copy, OpenTmpfile(shard_.get()));
    ONIX_RETURN_IF_ERROR_CTX(CopyBytes(tmp_.get(), copy.get(), size_), what);
    ONIX_RETURN_IF_ERROR_CTX(LinkObject(copy.get(), shard_.get(), key), what);
  }
  tmp_.reset();
  return absl::OkStatus();
}

absl::Status Store::Put(const ObjectKey& key, std::string_view bytes) {
  const std::string what = StrCat("adding store object ", key.Name());
  if (Sha256Of(bytes) != key.digest) {
    return DataLoss(StrCat(what, ": content does not match its digest"));
  }
  ONIX_ASSIGN_OR_RETURN(bool has, Has(key));
  if (has) return absl::OkStatus();
  ONIX_ASSIGN_OR_RETURN(ObjectWriter w, BeginObject(key.digest));
  ONIX_RETURN_IF_ERROR(w.Append(bytes));
  return w.Publish({key});
}

absl::Status Store::Verify(const ObjectKey& key) const {
  absl::StatusOr<Digest> got = Sha256FileAt(fd_.get(), key.RelPath());
  if (!got.ok()) return Annotate(got.status(), StrCat("verifying store object ", key.Name()));
  if (*got != key.digest) {
    return DataLoss(
        StrCat("verifying store object ", key.Name(), ": content hashes to ", got->Hex()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ObjectKey>> Store::List() const {
  std::vector<ObjectKey> out;
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> shards, fs::ListDir(fd_.get()));
  for (const auto& shard : shards) {
    if (shard.size() != 2) continue;
    ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(fd_.get(), shard));
    ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dir.get()));
    for (const auto& name : names) {
      absl::StatusOr<ObjectKey> key = ObjectKey::Parse(name);
      if (key.ok() && key->digest.Hex().substr(0, 2) == shard) out.push_back(*key);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status Store::Remove(const ObjectKey& key) {
  absl::Status s = fs::UnlinkAt(fd_.get(), key.RelPath());
  if (absl::IsNotFound(s)) return absl::OkStatus();
  return s;
}

absl::StatusOr<uint64_t> Store::TotalSize() const {
  ONIX_ASSIGN_OR_RETURN(std::vector<ObjectKey> keys, List());
  uint64_t total = 0;
  for (const auto& key : keys) {
    ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(fd_.get(), key.RelPath()));
    total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

absl::Status Store::Sync() const { return fs::SyncFs(fd_.get()); }

}  // namespace onix::moss::store
