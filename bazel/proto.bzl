"""kmend_proto_library: C++ (and optionally gRPC) code from .proto files.

Bazel 4 has no gRPC rule and its proto_library would fetch @com_google_protobuf,
so this macro runs Debian's /usr/bin/protoc and /usr/bin/grpc_cpp_plugin in one
genrule and wraps the outputs in a cc_library.

Imports are written relative to the workspace root ("proto/common.proto"); a
proto that imports another lists that file's kmend_proto_library in `deps`.
"""

def kmend_proto_library(name, srcs, deps = [], grpc = False, visibility = None):
    """Generates <name> (cc_library) from srcs.

    Args:
      name: the cc_library's name; its proto files are exported as <name>_files.
      srcs: .proto files in this package.
      deps: other kmend_proto_library targets whose files srcs import.
      grpc: also generate service stubs (*.grpc.pb.{h,cc}) and link gRPC.
      visibility: as for any rule.
    """
    base = [s[:-len(".proto")] for s in srcs]
    outs = [b + ".pb.h" for b in base] + [b + ".pb.cc" for b in base]
    if grpc:
        outs += [b + ".grpc.pb.h" for b in base] + [b + ".grpc.pb.cc" for b in base]

    native.filegroup(
        name = name + "_files",
        srcs = srcs + [d + "_files" for d in deps],
        visibility = visibility,
    )

    package = native.package_name()
    src_paths = " ".join([(package + "/" if package else "") + s for s in srcs])
    cmd = "/usr/bin/protoc -I. --cpp_out=$(GENDIR)"
    if grpc:
        cmd += " --grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin"
    cmd += " " + src_paths

    native.genrule(
        name = name + "_gen",
        srcs = [name + "_files"],
        outs = outs,
        cmd = cmd,
        message = "protoc " + name,
    )

    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["//third_party/system:protobuf"] +
               (["//third_party/system:grpc"] if grpc else []),
        visibility = visibility,
    )
