package druidctl.protobuf;

import com.jayway.jsonpath.Configuration;
import com.jayway.jsonpath.JsonPath;
import com.jayway.jsonpath.Option;
import com.jayway.jsonpath.spi.json.JsonProvider;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.apache.druid.java.util.common.parsers.FlattenerJsonProvider;
import org.apache.druid.java.util.common.parsers.NotImplementedMappingProvider;
import org.apache.druid.java.util.common.parsers.ObjectFlatteners;

/**
 * Flattens the converter's plain Java map directly, as Druid 33's protobuf reader does: values
 * keep their Java types (an {@code int32} stays an Integer, a float a Float, bytes a byte array)
 * because no JSON tree sits in between. Field discovery skips lists and maps; a JSONPath that
 * does not match gives null (exceptions suppressed). jq expressions are not supported.
 */
final class PlainJavaFlattenerMaker implements ObjectFlatteners.FlattenerMaker<Map<String, Object>>
{
  private static final JsonProvider PROVIDER = new MapJsonProvider();
  private static final Configuration CONFIG = Configuration.builder()
      .jsonProvider(PROVIDER)
      .mappingProvider(new NotImplementedMappingProvider())
      .options(EnumSet.of(Option.SUPPRESS_EXCEPTIONS))
      .build();

  @Override
  public JsonProvider getJsonProvider()
  {
    return PROVIDER;
  }

  @Override
  public Iterable<String> discoverRootFields(Map<String, Object> record)
  {
    final Set<String> fields = new HashSet<>();
    for (Map.Entry<String, Object> entry : record.entrySet()) {
      if (!(entry.getValue() instanceof List) && !(entry.getValue() instanceof Map)) {
        fields.add(entry.getKey());
      }
    }
    return fields;
  }

  @Override
  public Object getRootField(Map<String, Object> record, String key)
  {
    return record.get(key);
  }

  @Override
  public Function<Map<String, Object>, Object> makeJsonPathExtractor(String expr)
  {
    final JsonPath path = JsonPath.compile(expr);
    return record -> path.read(record, CONFIG);
  }

  @Override
  public Function<Map<String, Object>, Object> makeJsonQueryExtractor(String expr)
  {
    throw new UnsupportedOperationException("jq flattenSpec fields are not supported by the druidctl stand-in");
  }

  /** JSONPath over java.util maps and lists. */
  private static final class MapJsonProvider extends FlattenerJsonProvider
  {
    @Override
    public boolean isArray(Object value)
    {
      return value instanceof List;
    }

    @Override
    public boolean isMap(Object value)
    {
      return value == null || value instanceof Map;
    }

    @Override
    public int length(Object value)
    {
      return value instanceof List ? ((List<?>) value).size() : 0;
    }

    @Override
    public Collection<String> getPropertyKeys(Object value)
    {
      if (value == null) {
        return Collections.emptySet();
      }
      if (value instanceof Map) {
        final Set<String> keys = new HashSet<>();
        for (Object key : ((Map<?, ?>) value).keySet()) {
          keys.add(String.valueOf(key));
        }
        return keys;
      }
      throw new UnsupportedOperationException(value.getClass().getName());
    }

    @Override
    public Object getMapValue(Object value, String key)
    {
      if (value == null) {
        return null;
      }
      if (value instanceof Map) {
        return ((Map<?, ?>) value).get(key);
      }
      throw new UnsupportedOperationException(value.getClass().getName());
    }
  }
}
