package druidctl.protobuf;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Base64;

/** {@code {"type": "inline", "descriptorString": base64 FileDescriptorSet, "protoMessageType": ...}}. */
public class InlineDescriptorDecoder extends DescriptorDecoder
{
  private final String descriptorString;

  @JsonCreator
  public InlineDescriptorDecoder(
      @JsonProperty("descriptorString") String descriptorString,
      @JsonProperty("protoMessageType") String protoMessageType
  )
  {
    super(protoMessageType, decode(descriptorString), "descriptorString");
    this.descriptorString = descriptorString;
  }

  @JsonProperty
  public String getDescriptorString()
  {
    return descriptorString;
  }

  @Override
  @JsonProperty
  public String getProtoMessageType()
  {
    return super.getProtoMessageType();
  }

  private static byte[] decode(String descriptorString)
  {
    if (descriptorString == null) {
      throw new IllegalArgumentException("descriptorString is required");
    }
    try {
      return Base64.getDecoder().decode(descriptorString);
    }
    catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("descriptorString is not base64: " + e.getMessage(), e);
    }
  }
}
