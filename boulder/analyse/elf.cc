#include "boulder/analyse/elf.h"

#include <elf.h>

#include <cstring>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::boulder {

namespace {

template <typename T>
bool ReadAt(std::string_view bytes, uint64_t off, T* out) {
  if (off > bytes.size() || bytes.size() - off < sizeof(T)) return false;
  std::memcpy(out, bytes.data() + off, sizeof(T));
  return true;
}

// A NUL-terminated string at `off`, bounded by the buffer.
bool StringAt(std::string_view bytes, uint64_t off, std::string* out) {
  if (off >= bytes.size()) return false;
  const size_t end = bytes.find('\0', off);
  if (end == std::string_view::npos) return false;
  *out = std::string(bytes.substr(off, end - off));
  return true;
}

}  // namespace

bool LooksLikeElf(std::string_view bytes) {
  return bytes.size() >= SELFMAG && std::memcmp(bytes.data(), ELFMAG, SELFMAG) == 0;
}

absl::StatusOr<ElfInfo> ParseElf(std::string_view bytes, std::string_view name) {
  auto bad = [&](std::string_view what) { return InvalidArgument(StrCat(name, ": ", what)); };
  Elf64_Ehdr eh;
  if (!LooksLikeElf(bytes) || !ReadAt(bytes, 0, &eh)) return bad("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
    return bad("only 64-bit little-endian ELF is supported");
  }
  ElfInfo info;
  switch (eh.e_type) {
    case ET_EXEC:
      info.type = ElfInfo::Type::kExecutable;
      break;
    case ET_DYN:
      info.type = ElfInfo::Type::kSharedObject;
      break;
    case ET_REL:
      info.type = ElfInfo::Type::kRelocatable;
      break;
    default:
      break;
  }
  info.machine = eh.e_machine == EM_X86_64    ? "x86_64"
                 : eh.e_machine == EM_AARCH64 ? "aarch64"
                                              : StrCat("machine-", eh.e_machine);
  if (eh.e_phnum > 0 && eh.e_phentsize != sizeof(Elf64_Phdr)) return bad("odd program header size");
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    if (!ReadAt(bytes, eh.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr), &phdrs[i])) {
      return bad("truncated program headers");
    }
  }
  // Maps a virtual address to a file offset through the PT_LOAD segments.
  auto to_offset = [&](uint64_t vaddr, uint64_t* off) {
    for (const Elf64_Phdr& ph : phdrs) {
      if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
        *off = ph.p_offset + (vaddr - ph.p_vaddr);
        return true;
      }
    }
    return false;
  };
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type == PT_INTERP) {
      if (ph.p_offset > bytes.size() || bytes.size() - ph.p_offset < ph.p_filesz) {
        return bad("PT_INTERP out of bounds");
      }
      std::string_view s = bytes.substr(ph.p_offset, ph.p_filesz);
      info.interpreter = std::string(s.substr(0, s.find('\0')));
    }
  }
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type != PT_DYNAMIC) continue;
    if (ph.p_offset > bytes.size() || bytes.size() - ph.p_offset < ph.p_filesz) {
      return bad("PT_DYNAMIC out of bounds");
    }
    std::vector<uint64_t> needed_offs;
    uint64_t soname_off = UINT64_MAX, strtab = 0;
    bool have_strtab = false;
    for (uint64_t off = ph.p_offset; off + sizeof(Elf64_Dyn) <= ph.p_offset + ph.p_filesz;
         off += sizeof(Elf64_Dyn)) {
      Elf64_Dyn d;
      if (!ReadAt(bytes, off, &d)) return bad("truncated dynamic section");
      if (d.d_tag == DT_NULL) break;
      if (d.d_tag == DT_NEEDED) needed_offs.push_back(d.d_un.d_val);
      if (d.d_tag == DT_SONAME) soname_off = d.d_un.d_val;
      if (d.d_tag == DT_STRTAB) {
        strtab = d.d_un.d_ptr;
        have_strtab = true;
      }
    }
    if (needed_offs.empty() && soname_off == UINT64_MAX) break;
    uint64_t str_off = 0;
    if (!have_strtab || !to_offset(strtab, &str_off)) return bad("DT_STRTAB not in a segment");
    for (uint64_t n : needed_offs) {
      std::string s;
      if (!StringAt(bytes, str_off + n, &s)) return bad("DT_NEEDED out of bounds");
      info.needed.push_back(s);
    }
    if (soname_off != UINT64_MAX && !StringAt(bytes, str_off + soname_off, &info.soname)) {
      return bad("DT_SONAME out of bounds");
    }
    break;
  }
  // Section headers only tell whether there is debug info to split off.
  if (eh.e_shnum > 0 && eh.e_shentsize == sizeof(Elf64_Shdr) && eh.e_shstrndx < eh.e_shnum) {
    Elf64_Shdr strsec;
    if (ReadAt(bytes, eh.e_shoff + uint64_t{eh.e_shstrndx} * sizeof(Elf64_Shdr), &strsec)) {
      for (uint16_t i = 0; i < eh.e_shnum; ++i) {
        Elf64_Shdr sh;
        if (!ReadAt(bytes, eh.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr), &sh)) break;
        std::string sname;
        if (StringAt(bytes, strsec.sh_offset + sh.sh_name, &sname) &&
            sname.rfind(".debug_", 0) == 0) {
          info.has_debug_info = true;
          break;
        }
      }
    }
  }
  return info;
}

}  // namespace onix::boulder
