// CFree<Fn>: a unique_ptr deleter calling a C library's free function, so every C handle
// (libsolv, libgit2, sqlite, ...) is owned by a std::unique_ptr (STYLE R5).
#pragma once

namespace onix {

template <auto Fn>
struct CFree {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

}  // namespace onix
