package druidctl.protobuf;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.File;
import org.apache.druid.data.input.InputEntity;
import org.apache.druid.data.input.InputEntityReader;
import org.apache.druid.data.input.InputFormat;
import org.apache.druid.data.input.InputRowSchema;
import org.apache.druid.java.util.common.parsers.JSONPathSpec;

/** {@code {"type": "protobuf", "protoBytesDecoder": {...}, "flattenSpec": {...}}}: one message per record. */
public class ProtobufInputFormat implements InputFormat
{
  private final ProtobufBytesDecoder protoBytesDecoder;
  private final JSONPathSpec flattenSpec;

  @JsonCreator
  public ProtobufInputFormat(
      @JsonProperty("flattenSpec") JSONPathSpec flattenSpec,
      @JsonProperty("protoBytesDecoder") ProtobufBytesDecoder protoBytesDecoder
  )
  {
    if (protoBytesDecoder == null) {
      throw new IllegalArgumentException("protoBytesDecoder is required");
    }
    this.flattenSpec = flattenSpec == null ? JSONPathSpec.DEFAULT : flattenSpec;
    this.protoBytesDecoder = protoBytesDecoder;
  }

  @JsonProperty
  public JSONPathSpec getFlattenSpec()
  {
    return flattenSpec;
  }

  @JsonProperty
  public ProtobufBytesDecoder getProtoBytesDecoder()
  {
    return protoBytesDecoder;
  }

  @Override
  public boolean isSplittable()
  {
    return false;
  }

  @Override
  public InputEntityReader createReader(InputRowSchema schema, InputEntity source, File temporaryDirectory)
  {
    return new ProtobufRecordReader(schema, source, protoBytesDecoder, flattenSpec);
  }
}
