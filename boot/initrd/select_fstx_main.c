/* onix-select-fstx: the initramfs hook. Usage:
 *   onix-select-fstx [--root DIR] [--cmdline FILE] [FSTX]
 * Without FSTX it reads moss.fstx= from FILE (default /proc/cmdline); no moss.fstx= means the
 * active state boots and nothing changes. Exit 0 on success, 1 on failure (with a message). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot/initrd/select_fstx.h"

int main(int argc, char** argv) {
  const char* root = "/";
  const char* cmdline_path = "/proc/cmdline";
  const char* fstx = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
      root = argv[++i];
    } else if (strcmp(argv[i], "--cmdline") == 0 && i + 1 < argc) {
      cmdline_path = argv[++i];
    } else if (argv[i][0] != '-' && fstx == NULL) {
      fstx = argv[i];
    } else {
      fprintf(stderr, "usage: onix-select-fstx [--root DIR] [--cmdline FILE] [FSTX]\n");
      return 2;
    }
  }
  char from_cmdline[256];
  if (fstx == NULL) {
    char buf[4096];
    int fd = open(cmdline_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fprintf(stderr, "onix-select-fstx: error: reading %s: %m\n", cmdline_path);
      return 1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    if (!onix_fstx_from_cmdline(buf, from_cmdline, sizeof(from_cmdline))) {
      printf("onix-select-fstx: no moss.fstx= on the command line, booting the active state\n");
      return 0;
    }
    fstx = from_cmdline;
  }
  char msg[1024];
  if (onix_select_fstx(root, fstx, msg, sizeof(msg)) != 0) {
    fprintf(stderr, "onix-select-fstx: error: %s\n", msg);
    return 1;
  }
  printf("onix-select-fstx: %s\n", msg);
  return 0;
}
