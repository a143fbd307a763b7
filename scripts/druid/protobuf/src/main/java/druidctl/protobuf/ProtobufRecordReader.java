package druidctl.protobuf;

import java.io.IOException;
import java.io.InputStream;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.druid.data.input.InputEntity;
import org.apache.druid.data.input.InputRow;
import org.apache.druid.data.input.InputRowSchema;
import org.apache.druid.data.input.IntermediateRowParsingReader;
import org.apache.druid.data.input.impl.MapInputRowParser;
import org.apache.druid.java.util.common.parsers.CloseableIterator;
import org.apache.druid.java.util.common.parsers.JSONPathSpec;
import org.apache.druid.java.util.common.parsers.ObjectFlattener;
import org.apache.druid.java.util.common.parsers.ObjectFlatteners;
import org.apache.druid.java.util.common.parsers.ParseException;

/**
 * Reads one Kafka record. The raw bytes are the intermediate row and decoding happens in
 * {@link #parseInputRows}, so a record that does not decode is a parse exception that Druid
 * counts as unparseable (and saves for /parseErrors), never a failed task.
 */
class ProtobufRecordReader extends IntermediateRowParsingReader<byte[]>
{
  private final InputRowSchema schema;
  private final InputEntity source;
  private final ProtobufBytesDecoder decoder;
  private final ObjectFlattener<Map<String, Object>> flattener;

  ProtobufRecordReader(InputRowSchema schema, InputEntity source, ProtobufBytesDecoder decoder, JSONPathSpec flattenSpec)
  {
    this.schema = schema;
    this.source = source;
    this.decoder = decoder;
    this.flattener = ObjectFlatteners.create(flattenSpec, new PlainJavaFlattenerMaker());
  }

  @Override
  protected CloseableIterator<byte[]> intermediateRowIterator() throws IOException
  {
    final byte[] bytes;
    try (InputStream in = source.open()) {
      bytes = in.readAllBytes();
    }
    return new CloseableIterator<>()
    {
      private boolean done;

      @Override
      public boolean hasNext()
      {
        return !done;
      }

      @Override
      public byte[] next()
      {
        if (done) {
          throw new NoSuchElementException();
        }
        done = true;
        return bytes;
      }

      @Override
      public void close()
      {
      }
    };
  }

  @Override
  protected InputEntity source()
  {
    return source;
  }

  @Override
  protected String intermediateRowAsString(byte[] row)
  {
    return Base64.getEncoder().encodeToString(row);
  }

  @Override
  protected List<InputRow> parseInputRows(byte[] row)
  {
    final Map<String, Object> flat = flattener.flatten(convert(row));
    return List.of(MapInputRowParser.parse(schema, flat));
  }

  @Override
  protected List<Map<String, Object>> toMap(byte[] row)
  {
    return List.of(convert(row));
  }

  /**
   * The record as plain values. A converter parse error (a set Any) makes the record
   * unparseable; its runtime exceptions (a singular Struct, a map with non-string keys, a
   * Timestamp out of range) are not caught: they fail the task, as in Druid 33.
   */
  private Map<String, Object> convert(byte[] row)
  {
    try {
      return MessageConverter.toMap(decoder.parse(row));
    }
    catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new ParseException(null, e, "Protobuf message could not be parsed");
    }
  }
}
