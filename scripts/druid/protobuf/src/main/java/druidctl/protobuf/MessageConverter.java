package druidctl.protobuf;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A message as plain Java values, following the rules in docs/druid-protobuf.md: keys are JSON names,
 * only set fields appear, enums are value names, bytes are byte arrays, Timestamp is an RFC 3339
 * string, Duration a "1.5s" string, wrappers their inner value, Struct/Value/ListValue plain
 * maps and lists, map fields maps.
 */
final class MessageConverter
{
  private MessageConverter()
  {
  }

  static Map<String, Object> toMap(Message message)
  {
    final Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<FieldDescriptor, Object> entry : message.getAllFields().entrySet()) {
      final FieldDescriptor field = entry.getKey();
      out.put(field.getJsonName(), field(field, entry.getValue()));
    }
    return out;
  }

  private static Object field(FieldDescriptor field, Object value)
  {
    if (field.isMapField()) {
      final FieldDescriptor key = field.getMessageType().findFieldByName("key");
      final FieldDescriptor val = field.getMessageType().findFieldByName("value");
      final Map<String, Object> map = new LinkedHashMap<>();
      for (Object element : (List<?>) value) {
        final Message entry = (Message) element;
        map.put(String.valueOf(single(key, entry.getField(key))), single(val, entry.getField(val)));
      }
      return map;
    }
    if (field.isRepeated()) {
      final List<Object> list = new ArrayList<>();
      for (Object element : (List<?>) value) {
        list.add(single(field, element));
      }
      return list;
    }
    return single(field, value);
  }

  private static Object single(FieldDescriptor field, Object value)
  {
    switch (field.getJavaType()) {
      case BYTE_STRING:
        return ((ByteString) value).toByteArray();
      case ENUM:
        if ("google.protobuf.NullValue".equals(field.getEnumType().getFullName())) {
          return null;
        }
        return ((EnumValueDescriptor) value).getName();
      case MESSAGE:
        return message((Message) value);
      default:
        return value;
    }
  }

  private static Object message(Message message)
  {
    final String type = message.getDescriptorForType().getFullName();
    switch (type) {
      case "google.protobuf.Timestamp":
        return timestamp(message);
      case "google.protobuf.Duration":
        return duration(message);
      case "google.protobuf.DoubleValue":
      case "google.protobuf.FloatValue":
      case "google.protobuf.Int64Value":
      case "google.protobuf.UInt64Value":
      case "google.protobuf.Int32Value":
      case "google.protobuf.UInt32Value":
      case "google.protobuf.BoolValue":
      case "google.protobuf.StringValue":
      case "google.protobuf.BytesValue": {
        final FieldDescriptor value = message.getDescriptorForType().findFieldByName("value");
        return single(value, message.getField(value));
      }
      case "google.protobuf.Struct": {
        final FieldDescriptor fields = message.getDescriptorForType().findFieldByName("fields");
        return field(fields, message.getField(fields));
      }
      case "google.protobuf.ListValue": {
        final FieldDescriptor values = message.getDescriptorForType().findFieldByName("values");
        return field(values, message.getField(values));
      }
      case "google.protobuf.Value": {
        final Map<FieldDescriptor, Object> set = message.getAllFields();
        if (set.isEmpty()) {
          return null;
        }
        final Map.Entry<FieldDescriptor, Object> kind = set.entrySet().iterator().next();
        return single(kind.getKey(), kind.getValue());
      }
      default:
        return toMap(message);
    }
  }

  private static long longField(Message message, String name)
  {
    final Object value = message.getField(message.getDescriptorForType().findFieldByName(name));
    return ((Number) value).longValue();
  }

  /** RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, like protobuf's own JSON mapping. */
  private static String timestamp(Message message)
  {
    final Instant instant = Instant.ofEpochSecond(longField(message, "seconds"), longField(message, "nanos"));
    return instant.toString();
  }

  private static String duration(Message message)
  {
    final long seconds = longField(message, "seconds");
    final long nanos = longField(message, "nanos");
    if (nanos == 0) {
      return seconds + "s";
    }
    final boolean negative = seconds < 0 || nanos < 0;
    String fraction = String.format("%09d", Math.abs(nanos));
    while (fraction.endsWith("000")) {
      fraction = fraction.substring(0, fraction.length() - 3);
    }
    return (negative ? "-" : "") + Math.abs(seconds) + "." + fraction + "s";
  }
}
