using System.Text;

namespace Lrml.Data;

/// <summary>
/// RFC-4180 CSV records for small metadata files (movies.csv, artists lists): fields may be quoted with
/// double quotes, a doubled quote inside a quoted field is one quote, and a quoted field may contain the
/// separator or a line break. Used for files of a few MB, so it works on the decoded text.
/// </summary>
internal static class Csv
{
    /// <summary>One record: the 1-based line it starts on and its fields.</summary>
    internal readonly record struct Record(long Line, string[] Fields);

    /// <summary>Longest accepted field (1 Mi characters, as <see cref="LineReader.DefaultMaxLineBytes"/> for lines): a
    /// longer one means a wrong or binary file, or a quote that is never closed.</summary>
    public const int MaxFieldLength = LineReader.DefaultMaxLineBytes;

    /// <summary>Parses all records of <paramref name="text"/>; blank lines are skipped.</summary>
    /// <exception cref="DataFormatException">Unterminated quote, text after a closing quote, or a field longer than
    /// <see cref="MaxFieldLength"/>.</exception>
    public static List<Record> Parse(string text, string path, char separator = ',')
    {
        var records = new List<Record>();
        var fields = new List<string>();
        var field = new StringBuilder();
        long line = 1, recordLine = 1;
        int k = 0;
        if (text.Length > 0 && text[0] == '\uFEFF') k = 1;
        bool fieldStarted = false;   // the record has content (so an empty last field still counts)
        bool atFieldStart = true;    // nothing of the current field read yet
        while (k <= text.Length)
        {
            if (field.Length > MaxFieldLength)
                throw new DataFormatException(path, recordLine, $"line is longer than {MaxFieldLength:N0} characters: not a text data file of the expected format (binary, or a quote that is never closed?)");
            if (k == text.Length || text[k] == '\n' || text[k] == '\r')
            {
                // end of record
                if (fieldStarted || fields.Count > 0)
                {
                    fields.Add(field.ToString());
                    records.Add(new Record(recordLine, fields.ToArray()));
                }
                fields.Clear(); field.Clear(); fieldStarted = false; atFieldStart = true;
                if (k < text.Length && text[k] == '\r' && k + 1 < text.Length && text[k + 1] == '\n') k++;
                k++;
                line++;
                recordLine = line;
                continue;
            }
            char c = text[k];
            if (c == '"' && atFieldStart)
            {
                // quoted field
                long startLine = line;
                k++;
                while (true)
                {
                    if (k >= text.Length) throw new DataFormatException(path, startLine, "unterminated quoted field (a '\"' is never closed)");
                    char q = text[k];
                    if (q == '"')
                    {
                        if (k + 1 < text.Length && text[k + 1] == '"') { field.Append('"'); k += 2; continue; }
                        k++;
                        break;
                    }
                    if (q == '\n') line++;
                    if (q == '\r' && k + 1 < text.Length && text[k + 1] == '\n') { k++; continue; }
                    field.Append(q);
                    k++;
                }
                fieldStarted = true; atFieldStart = false;
                if (k < text.Length && text[k] != separator && text[k] != '\n' && text[k] != '\r')
                    throw new DataFormatException(path, line, $"malformed quoted field: text after the closing quote (\"{Excerpt(text, k)}\")");
                continue;
            }
            if (c == separator)
            {
                fields.Add(field.ToString());
                field.Clear();
                fieldStarted = true; atFieldStart = true;
                k++;
                continue;
            }
            field.Append(c);
            fieldStarted = true; atFieldStart = false;
            k++;
        }
        return records;
    }

    private static string Excerpt(string text, int k) => text.Substring(k, Math.Min(30, text.Length - k)).Replace("\n", "\\n");
}
