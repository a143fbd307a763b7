package druidctl.protobuf;

import com.google.common.collect.Maps;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A message as plain Java values, as Druid 33's protobuf extension produces them (written from
 * its behaviour, see docs/druid-protobuf.md):
 *
 * <ul>
 *   <li>keys are JSON names; only set fields appear (a proto3 scalar at zero does not);
 *   <li>scalars pass through as protobuf-java gives them ({@code uint32} is a Java int, so a
 *       value above 2^31 is negative); bytes are byte arrays; enums are value names, an unknown
 *       number is {@code UNKNOWN_ENUM_VALUE_<Enum>_<n>}; {@code NullValue} is null;
 *   <li>well-known types are converted only when the field itself holds one (a singular field):
 *       Timestamp as RFC 3339, Duration as {@code "1.5s"}, wrappers as their value, FieldMask as
 *       its JSON string, Value as its one value, ListValue as a list of Value objects; inside a
 *       repeated field or a map value they are plain messages ({@code {seconds, nanos}});
 *   <li>failures: a set {@code Any} cannot be printed without its type (a parse error: the record
 *       is unparseable); a singular {@code Struct}, a map with non-string keys, or a Timestamp or
 *       Duration out of range throws a runtime exception that is not a parse error: the task
 *       fails.
 * </ul>
 */
final class MessageConverter
{
  private MessageConverter()
  {
  }

  static Map<String, Object> toMap(Message message) throws InvalidProtocolBufferException
  {
    // Sized like Druid's maps: the table size decides the order a map prints in.
    final Map<FieldDescriptor, Object> fields = message.getAllFields();
    final Map<String, Object> out = Maps.newHashMapWithExpectedSize(fields.size());
    for (Map.Entry<FieldDescriptor, Object> entry : fields.entrySet()) {
      out.put(entry.getKey().getJsonName(), field(entry.getKey(), entry.getValue()));
    }
    return out;
  }

  private static Object field(FieldDescriptor field, Object value) throws InvalidProtocolBufferException
  {
    if (value instanceof Message) {
      final Object special = wellKnown((Message) value);
      if (special != NOT_SPECIAL) {
        return special;
      }
    }
    if (field.isMapField()) {
      return map(field, (List<?>) value);
    }
    if (field.isRepeated()) {
      return list(field, (List<?>) value);
    }
    return single(field, value);
  }

  private static List<Object> list(FieldDescriptor field, List<?> values) throws InvalidProtocolBufferException
  {
    final List<Object> out = new ArrayList<>(values.size());
    for (Object element : values) {
      out.add(single(field, element));
    }
    return out;
  }

  private static Map<String, Object> map(FieldDescriptor field, List<?> entries) throws InvalidProtocolBufferException
  {
    final FieldDescriptor key = field.getMessageType().findFieldByName("key");
    final FieldDescriptor value = field.getMessageType().findFieldByName("value");
    final Map<String, Object> out = Maps.newHashMapWithExpectedSize(entries.size());
    for (Object element : entries) {
      final Message entry = (Message) element;
      // Druid casts the converted key to String: an int, long or bool key throws the JVM's
      // own ClassCastException, which fails the task.
      final Object converted = single(key, entry.getField(key));
      out.put((String) converted, single(value, entry.getField(value)));
    }
    return out;
  }

  private static Object single(FieldDescriptor field, Object value) throws InvalidProtocolBufferException
  {
    switch (field.getType()) {
      case BYTES:
        return ((ByteString) value).toByteArray();
      case ENUM:
        if ("google.protobuf.NullValue".equals(field.getEnumType().getFullName())) {
          return null;
        }
        return ((EnumValueDescriptor) value).getName();
      case MESSAGE:
      case GROUP:
        return toMap((Message) value);
      default:
        return value;
    }
  }

  private static final Object NOT_SPECIAL = new Object();

  /** The conversion of a singular well-known-type field, or NOT_SPECIAL. */
  private static Object wellKnown(Message message) throws InvalidProtocolBufferException
  {
    final String type = message.getDescriptorForType().getFullName();
    switch (type) {
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
      case "google.protobuf.Any": {
        final String url = (String) message.getField(message.getDescriptorForType().findFieldByName("type_url"));
        throw new InvalidProtocolBufferException("Cannot find type for url: " + url);
      }
      case "google.protobuf.Timestamp":
        return timestamp(message);
      case "google.protobuf.Duration":
        return duration(message);
      case "google.protobuf.FieldMask":
        return fieldMask(message);
      case "google.protobuf.Struct": {
        // Druid converts the map field `fields` as one value: the JVM refuses to cast its list
        // of entries to a message (a ClassCastException: the task fails).
        final FieldDescriptor fields = message.getDescriptorForType().findFieldByName("fields");
        return single(fields, message.getField(fields));
      }
      case "google.protobuf.Value": {
        final Map<FieldDescriptor, Object> set = message.getAllFields();
        if (set.isEmpty()) {
          return null;
        }
        final Map.Entry<FieldDescriptor, Object> kind = set.entrySet().iterator().next();
        return single(kind.getKey(), kind.getValue());
      }
      case "google.protobuf.ListValue": {
        final FieldDescriptor values = message.getDescriptorForType().findFieldByName("values");
        return list(values, (List<?>) message.getField(values));
      }
      default:
        return NOT_SPECIAL;
    }
  }

  private static long longField(Message message, String name)
  {
    final Object value = message.getField(message.getDescriptorForType().findFieldByName(name));
    return ((Number) value).longValue();
  }

  /** RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits; years 1-9999 only, like protobuf's. */
  private static String timestamp(Message message)
  {
    final long seconds = longField(message, "seconds");
    final long nanos = longField(message, "nanos");
    if (seconds < -62135596800L || seconds > 253402300799L || nanos < 0 || nanos > 999999999) {
      throw new IllegalArgumentException(
          "Timestamp is not valid. See proto definition for valid values. Seconds (" + seconds
          + ") must be in range [-62,135,596,800, +253,402,300,799]. Nanos (" + nanos + ") must be in range [0, +999,999,999]."
      );
    }
    return Instant.ofEpochSecond(seconds, nanos).toString();
  }

  private static String duration(Message message)
  {
    final long seconds = longField(message, "seconds");
    final long nanos = longField(message, "nanos");
    if (seconds < -315576000000L || seconds > 315576000000L || nanos <= -1000000000 || nanos >= 1000000000
        || (seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0)) {
      throw new IllegalArgumentException(
          "Duration is not valid. See proto definition for valid values. Seconds (" + seconds
          + ") must be in range [-315,576,000,000, +315,576,000,000]. Nanos (" + nanos + ") must be in range [-999,999,999, +999,999,999]."
      );
    }
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

  /** FieldMask's JSON form: paths in lowerCamelCase, joined by commas. */
  private static String fieldMask(Message message)
  {
    final List<?> paths = (List<?>) message.getField(message.getDescriptorForType().findFieldByName("paths"));
    final List<String> out = new ArrayList<>();
    for (Object path : paths) {
      final StringBuilder camel = new StringBuilder();
      boolean upper = false;
      for (char c : ((String) path).toCharArray()) {
        if (c == '_') {
          upper = true;
        } else {
          camel.append(upper ? Character.toUpperCase(c) : c);
          upper = false;
        }
      }
      out.add(camel.toString());
    }
    return String.join(",", out);
  }
}
