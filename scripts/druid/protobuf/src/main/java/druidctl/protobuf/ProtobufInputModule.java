package druidctl.protobuf;

import com.fasterxml.jackson.databind.Module;
import com.fasterxml.jackson.databind.jsontype.NamedType;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.google.inject.Binder;
import java.util.List;
import org.apache.druid.initialization.DruidModule;

/**
 * Registers the JSON type names of Druid's protobuf extension: the input format {@code protobuf}
 * and the descriptor decoders {@code inline} and {@code file}. Loaded from the classpath
 * (META-INF/services), like the Kafka indexing service on the local stack.
 */
public class ProtobufInputModule implements DruidModule
{
  @Override
  public List<? extends Module> getJacksonModules()
  {
    return List.of(
        new SimpleModule("DruidctlProtobufInputModule").registerSubtypes(
            new NamedType(ProtobufInputFormat.class, "protobuf"),
            new NamedType(InlineDescriptorDecoder.class, "inline"),
            new NamedType(FileDescriptorDecoder.class, "file")
        )
    );
  }

  @Override
  public void configure(Binder binder)
  {
  }
}
