package druidctl.protobuf;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.IOException;
import java.io.InputStream;
import java.net.MalformedURLException;
import java.net.URI;
import java.net.URL;

/**
 * {@code {"type": "file", "descriptor": URL or classpath entry, "protoMessageType": ...}}. Like
 * Druid, the descriptor is read from a URL (file, http, https, jar) or, when the string is not a
 * URL, from the classpath; s3:// is refused.
 */
public class FileDescriptorDecoder extends DescriptorDecoder
{
  private final String descriptor;

  @JsonCreator
  public FileDescriptorDecoder(
      @JsonProperty("descriptor") String descriptor,
      @JsonProperty("protoMessageType") String protoMessageType
  )
  {
    super(protoMessageType, read(descriptor), "descriptor " + descriptor);
    this.descriptor = descriptor;
  }

  @JsonProperty
  public String getDescriptor()
  {
    return descriptor;
  }

  @Override
  @JsonProperty
  public String getProtoMessageType()
  {
    return super.getProtoMessageType();
  }

  private static byte[] read(String descriptor)
  {
    if (descriptor == null) {
      throw new IllegalArgumentException("descriptor is required");
    }
    URL url;
    try {
      url = URI.create(descriptor).toURL();
    }
    catch (IllegalArgumentException | MalformedURLException e) {
      url = FileDescriptorDecoder.class.getClassLoader().getResource(descriptor);
      if (url == null) {
        throw new IllegalArgumentException("Cannot read descriptor " + descriptor + ": not a URL nor on the classpath", e);
      }
    }
    try (InputStream in = url.openStream()) {
      return in.readAllBytes();
    }
    catch (IOException e) {
      throw new IllegalArgumentException("Cannot read descriptor " + descriptor + ": " + e, e);
    }
  }
}
