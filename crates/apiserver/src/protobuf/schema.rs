//! The shapes of the generated field tables (see `generated.rs`).

/// One protobuf message of the Kubernetes API.
pub(super) struct Message {
    /// Dotted path of the k8s-pb module and message, for look-ups of the
    /// meta/v1 kinds that every group version carries (DeleteOptions).
    pub name: &'static str,
    pub special: Special,
    /// Sorted by tag.
    pub fields: &'static [Field],
}

pub(super) struct Field {
    pub tag: u32,
    /// The JSON name of the field.
    pub json: &'static str,
    pub wire: Wire,
    pub repeated: bool,
}

/// How a field is encoded. `Msg`/`MapMsg` carry an index into `MESSAGES`.
#[derive(Clone, Copy)]
pub(super) enum Wire {
    Str,
    Bool,
    Int32,
    Int64,
    Double,
    Bytes,
    Msg(u16),
    MapString,
    MapBytes,
    MapMsg(u16),
}

/// Messages whose JSON form is not an object of their fields.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Special {
    None,
    /// meta/v1 Time: seconds precision RFC 3339, null when zero.
    Time,
    /// meta/v1 MicroTime: microsecond precision RFC 3339.
    MicroTime,
    /// meta/v1 Duration: a Go duration string.
    Duration,
    /// Raw JSON bytes embedded as they are (RawExtension, FieldsV1, JSON).
    RawJson,
    /// resource.Quantity: its string form.
    Quantity,
    /// intstr.IntOrString: a number or a string.
    IntOrString,
    /// A named Go slice (ExtraValue): a JSON array of its items.
    Items,
}
