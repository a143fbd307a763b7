package druidctl.protobuf;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.google.protobuf.DynamicMessage;

/**
 * Turns the bytes of one record into a message. Only the descriptor-based decoders exist here;
 * a spec asking for {@code schema_registry} is refused at submit, as on a Druid without the
 * Confluent jars.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(name = "inline", value = InlineDescriptorDecoder.class),
    @JsonSubTypes.Type(name = "file", value = FileDescriptorDecoder.class)
})
public interface ProtobufBytesDecoder
{
  /** Decodes one record; throws {@code ParseException} when the bytes are not such a message. */
  DynamicMessage parse(byte[] record);
}
