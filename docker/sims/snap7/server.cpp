// snap7's S7Server (snap7 1.3.0, the C++ source bundled in the node-snap7 npm package) as a third-party S7 target:
// ISO-on-TCP on ADDRESS:PORT, a CPU 315-2 PN/DP as snap7 describes itself (protection level 1, mode selector
// RUN-P, every job accepted), DB1 of 32 bytes (byte i = i * 7 mod 256, as test/helpers/s7.ts registers it).
// Built by docker/sims/snap7/Dockerfile with g++; no Node addon, so no Node headers are needed.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include "snap7_libmain.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: snap7-server ADDRESS PORT\n");
    return 3;
  }
  static unsigned char db1[32];
  for (unsigned i = 0; i < sizeof db1; i++) db1[i] = (unsigned char)((i * 7) & 0xff);
  uint16_t port = (uint16_t)std::atoi(argv[2]);
  // SIGTERM/SIGINT are blocked before snap7 starts its threads (they inherit the mask) and taken with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  S7Object server = Srv_Create();
  Srv_SetParam(server, p_u16_LocalPort, &port);
  Srv_RegisterArea(server, srvAreaDB, 1, db1, sizeof db1);
  int rc = Srv_StartTo(server, argv[1]);
  if (rc != 0) {
    std::fprintf(stderr, "snap7-server: cannot listen on %s:%u (error 0x%x)\n", argv[1], port, rc);
    return 1;
  }
  std::printf("snap7 S7Server on %s:%u\n", argv[1], port);
  std::fflush(stdout);
  int received = 0;
  sigwait(&stop_signals, &received);
  Srv_Stop(server);
  Srv_Destroy(server);
  return 0;
}
