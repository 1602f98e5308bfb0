{
  "targets": [
    {
      "target_name": "bus_zmq",
      "sources": ["src/zmqb.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra"],
      "libraries": ["-ldl"]
    }
  ]
}
