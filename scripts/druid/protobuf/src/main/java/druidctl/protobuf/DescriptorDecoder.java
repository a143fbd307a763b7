package druidctl.protobuf;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.druid.java.util.common.parsers.ParseException;

/**
 * Shared by the {@code inline} and {@code file} decoders: builds the message type from a
 * serialized FileDescriptorSet once, when the spec is read, so a bad descriptor or an unknown
 * message type is refused at submit (a 400 from the Overlord), not on every record.
 */
abstract class DescriptorDecoder implements ProtobufBytesDecoder
{
  private final String protoMessageType;
  private final Descriptor descriptor;

  DescriptorDecoder(String protoMessageType, byte[] descriptorSet, String origin)
  {
    this.protoMessageType = protoMessageType;
    this.descriptor = messageType(descriptorSet, protoMessageType, origin);
  }

  public String getProtoMessageType()
  {
    return protoMessageType;
  }

  @Override
  public DynamicMessage parse(byte[] record)
  {
    try {
      return DynamicMessage.parseFrom(descriptor, record);
    }
    catch (InvalidProtocolBufferException e) {
      throw new ParseException(null, e, "Protobuf message could not be parsed: %s", e.getMessage());
    }
  }

  private static Descriptor messageType(byte[] bytes, String name, String origin)
  {
    final FileDescriptorSet set;
    try {
      set = FileDescriptorSet.parseFrom(bytes);
    }
    catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(origin + " is not a serialized FileDescriptorSet: " + e.getMessage(), e);
    }
    final Map<String, FileDescriptorProto> protos = new LinkedHashMap<>();
    for (FileDescriptorProto proto : set.getFileList()) {
      protos.put(proto.getName(), proto);
    }
    final Map<String, FileDescriptor> built = new HashMap<>();
    final List<FileDescriptor> files = new ArrayList<>();
    for (String file : protos.keySet()) {
      files.add(build(file, protos, built, origin));
    }
    if (files.isEmpty()) {
      throw new IllegalArgumentException(origin + " holds no file");
    }
    if (name == null) {
      for (FileDescriptor file : files) {
        if (!file.getMessageTypes().isEmpty()) {
          return file.getMessageTypes().get(0);
        }
      }
      throw new IllegalArgumentException(origin + " holds no message type");
    }
    for (FileDescriptor file : files) {
      final Descriptor found = find(file, name);
      if (found != null) {
        return found;
      }
    }
    throw new IllegalArgumentException("Descriptor not found: message type " + name + " is not in " + origin);
  }

  private static FileDescriptor build(
      String name,
      Map<String, FileDescriptorProto> protos,
      Map<String, FileDescriptor> built,
      String origin
  )
  {
    final FileDescriptor done = built.get(name);
    if (done != null) {
      return done;
    }
    final FileDescriptorProto proto = protos.get(name);
    if (proto == null) {
      throw new IllegalArgumentException(origin + " lacks the imported file " + name);
    }
    built.put(name, null);
    final List<FileDescriptor> deps = new ArrayList<>();
    for (String dependency : proto.getDependencyList()) {
      if (built.containsKey(dependency) && built.get(dependency) == null) {
        throw new IllegalArgumentException(origin + ": import cycle through " + dependency);
      }
      deps.add(build(dependency, protos, built, origin));
    }
    try {
      final FileDescriptor file = FileDescriptor.buildFrom(proto, deps.toArray(new FileDescriptor[0]));
      built.put(name, file);
      return file;
    }
    catch (DescriptorValidationException e) {
      throw new IllegalArgumentException(origin + ": invalid file " + name + ": " + e.getMessage(), e);
    }
  }

  private static Descriptor find(FileDescriptor file, String fullName)
  {
    final String pkg = file.getPackage();
    final String local;
    if (pkg.isEmpty()) {
      local = fullName;
    } else if (fullName.startsWith(pkg + ".")) {
      local = fullName.substring(pkg.length() + 1);
    } else {
      return null;
    }
    Descriptor current = null;
    for (String part : local.split("\\.")) {
      current = current == null ? file.findMessageTypeByName(part) : current.findNestedTypeByName(part);
      if (current == null) {
        return null;
      }
    }
    return current;
  }
}
